"""The Ansible side (lint and every molecule scenario), counted by pytest.

`make check` runs them whenever this machine can: root, with podman, runc and debootstrap installed
(`scripts/bootstrap.sh --test` installs them as root, so in CI they always run). A cold run takes
about 15-20 minutes on 2 cores (docs/ansible.md, "Tests"). `scripts/fleet/test-all.sh` runs
everything once (in parallel lanes, one run per machine at a time) and each test here checks the
result of one item. Every skip names its reason; OPLGUARD_ANSIBLE=0 switches them off on purpose
(a developer's quick full-suite run), `make molecule` runs them alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_ALL = ROOT / "scripts" / "fleet" / "test-all.sh"
WORK = Path(os.environ.get("FLEET_WORK", "/var/tmp/oplguard-fleet"))
SCENARIOS = sorted(path.parent.name for path in (ROOT / "molecule").glob("*/molecule.yml"))
ITEMS = ["lint", *SCENARIOS]
# Cold, under load from other jobs on 2 cores: about 20 min measured; fail loudly well before
# CI's 90-minute limit rather than hang.
TIMEOUT_S = 2400
# Debian packages the harness needs on the controller (scripts/bootstrap.sh --test installs them)
TOOLS = ("podman", "runc", "debootstrap")


def why_not_runnable() -> str | None:
    """The reason these tests cannot or should not run here, or None when they run."""
    if os.environ.get("OPLGUARD_ANSIBLE") == "0":
        return "OPLGUARD_ANSIBLE=0: Ansible scenarios switched off (make molecule runs them)"
    if os.geteuid() != 0:
        return "the Ansible scenarios need root (rootful podman): run make check as root"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return (
            f"Ansible/molecule scenarios need {', '.join(missing)}: "
            "scripts/bootstrap.sh --test (as root) installs them"
        )
    return None


pytestmark = [
    pytest.mark.skipif(why_not_runnable() is not None, reason=str(why_not_runnable())),
    # pytest-timeout's default (pyproject) is for one test; the first item here waits for the whole
    # run of test-all.sh (its own limit is TIMEOUT_S), so it gets that and 10 minutes more.
    pytest.mark.timeout(TIMEOUT_S + 600),
]


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


def test_every_scenario_is_counted() -> None:
    """A scenario directory without molecule.yml would be silently left out: there is none."""
    dirs = {p.name for p in (ROOT / "molecule").iterdir() if p.is_dir() and p.name != "common"}
    assert dirs == set(SCENARIOS)


@pytest.mark.parametrize("item", ITEMS)
def test_ansible_item_passes(item: str, results: dict[str, tuple[int, str]]) -> None:
    code, tail = results[item]
    assert code == 0, f"{item} failed (exit {code}); see {WORK}/logs/{item}.log:\n{tail}"
