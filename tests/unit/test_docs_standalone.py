"""The repository stands alone: no doc, test or source points outside it.

Three ways a line can point outside: a relative path upwards that leaves the repository, an
absolute path into a folder of this machine that no installed system has (a workstation's own
tree), or a Markdown document named by a relative path that is not in the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A relative path upwards; it must land inside the repository (molecule/common/ is ours).
UPWARDS = re.compile(r"((?:\.\./)+[\w.-]+)")
# An absolute path (after a space, a quote, a backtick, "=" or "("), and the top folders a host has.
ABSOLUTE = re.compile(r"""(?:^|[\s`'"=(])(/[a-z][\w.-]*/[\w./-]*)""")
SYSTEM_TOPS = frozenset({
    "bin", "boot", "dev", "etc", "home", "lib", "lib64", "media", "mnt", "opt", "proc", "root",
    "run", "sbin", "srv", "sys", "tmp", "usr", "var",
})  # fmt: skip
# A Markdown document named by a relative path, in backticks.
DOCUMENT = re.compile(r"`((?:[\w.-]+/)+[\w.-]+\.md)`")
TEXT_SUFFIXES = {".md", ".py", ".yml", ".yaml", ".sh", ".j2", ".toml", ".cfg"}


def _leaves(path: Path, line: str) -> bool:
    """A relative path upwards that lands outside the repository."""
    return any(
        not (path.parent / up).resolve().is_relative_to(ROOT) for up in UPWARDS.findall(line)
    )


def _foreign_absolute(line: str, system_tops: frozenset[str] = SYSTEM_TOPS) -> bool:
    """An absolute path outside the repository whose top folder exists on this machine but is
    none of a host's own (URL paths such as ``/removals/`` and placeholders such as
    ``/path/to/`` exist nowhere)."""
    for text in ABSOLUTE.findall(line):
        path = Path(text)
        top = Path("/", path.parts[1])
        if path.parts[1] not in system_tops and top.is_dir() and not path.is_relative_to(ROOT):
            return True
    return False


def _missing_document(path: Path, line: str) -> bool:
    return any(
        not (ROOT / name).exists() and not (path.parent / name).exists()
        for name in DOCUMENT.findall(line)
    )


def outside(path: Path, line: str) -> bool:
    """Whether ``line`` of ``path`` points at something outside the repository."""
    return _leaves(path, line) or _foreign_absolute(line) or _missing_document(path, line)


def test_nothing_points_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for name in files:
        path = ROOT / name
        if path.suffix not in TEXT_SUFFIXES or name == "tests/unit/test_docs_standalone.py":
            continue  # (this file's own examples are checked below)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if outside(path, line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_each_way_of_pointing_outside_is_caught(tmp_path: Path) -> None:
    doc = ROOT / "docs" / "example.md"
    assert outside(doc, "see ../../elsewhere/notes")
    assert outside(ROOT / "README.md", "see ../reference/STYLE.md")
    assert outside(doc, "as `reference/STYLE.md` says")
    # A workstation's own tree: here the temporary folder stands for it.
    tops = SYSTEM_TOPS - {tmp_path.parts[1]}
    assert _foreign_absolute(f"the recipe in {tmp_path}/recipes/hosts.md", tops)
    assert not _foreign_absolute(f"the recipe in {ROOT}/docs/ansible.md", tops)
    assert not outside(doc, "installed in /opt/oplguard/venv, config /etc/oplguard/oplguard.toml")
    assert not outside(doc, "GET /removals/{id} and /path/to/checkout")
    assert not outside(doc, "see `docs/architecture.md` and ../README.md")
