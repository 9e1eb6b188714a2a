"""The Ansible side (lint and every molecule scenario), counted by pytest.

They need root, podman and several minutes, so they run only with OPLGUARD_ANSIBLE=1; without it
each is skipped with that reason. scripts/fleet/test-all.sh runs everything once (in parallel
lanes) and each test here checks the result of one item.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_ALL = ROOT / "scripts" / "fleet" / "test-all.sh"
WORK = Path(os.environ.get("FLEET_WORK", "/var/tmp/oplguard-fleet"))
SCENARIOS = sorted(path.parent.name for path in (ROOT / "molecule").glob("*/molecule.yml"))
ITEMS = ["lint", *SCENARIOS]
# test-all.sh: set-up ~2-3 min cold, then the scenarios; well inside CI's budget
TIMEOUT_S = 1800

pytestmark = pytest.mark.skipif(
    os.environ.get("OPLGUARD_ANSIBLE") != "1",
    reason="Ansible/molecule tests need root and podman: set OPLGUARD_ANSIBLE=1 (make molecule)",
)


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[int, str]]:
    """Run test-all.sh once; map each item to (exit code, log tail)."""
    subprocess.run([str(TEST_ALL)], check=False, timeout=TIMEOUT_S)
    found: dict[str, tuple[int, str]] = {}
    for item in ITEMS:
        result = WORK / "logs" / f"{item}.result"
        log = WORK / "logs" / f"{item}.log"
        code = int(result.read_text().split()[0]) if result.exists() else -1
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
        found[item] = (code, tail)
    return found


@pytest.mark.parametrize("item", ITEMS)
def test_ansible_item_passes(item: str, results: dict[str, tuple[int, str]]) -> None:
    code, tail = results[item]
    assert code == 0, f"{item} failed (exit {code}); see {WORK}/logs/{item}.log:\n{tail}"
