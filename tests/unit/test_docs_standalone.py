"""The repository stands alone: no doc, test or source points outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Names of the development workspace's reference folder, which users never have.
OUTSIDE = re.compile(r"(`shared/(fleet|spec|seeds)|shared/STYLE\.md|/work/shared)")
# A relative path upwards; it must land inside the repository (molecule/shared/ is ours).
UPWARDS = re.compile(r"((?:\.\./)+[\w.-]+)")


def _leaves(path: Path, line: str) -> bool:
    return any(
        not (path.parent / up).resolve().is_relative_to(ROOT) for up in UPWARDS.findall(line)
    )


def test_nothing_points_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for name in files:
        path = ROOT / name
        if path.suffix not in {".md", ".py", ".yml", ".yaml", ".sh", ".j2", ".toml", ".cfg"}:
            continue
        if name == "tests/unit/test_docs_standalone.py":
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line) or _leaves(path, line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
