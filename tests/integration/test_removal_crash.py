"""``kill -9`` between an approval's decision and its list edit, then the next command repairs it.

The approving process is the real ``oplguard removals approve``; it sends
itself SIGKILL at the chosen point (a fault injected by wrapping the edit
step: a real kill cannot otherwise be timed between two statements).  The
next command, a separate real ``oplguard removals list``, must finish the
approval and say so: never "approved" with the IP still listed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oplguard.config import loader as config_loader
from oplguard.lists.block import load_list
from oplguard.removals.model import Contact
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import RequestStatus
from oplguard.storage.db import Database
from tests.conftest import ConfigWriter
from tests.integration.web_harness import write_web_config

pytestmark = pytest.mark.integration
IP = "192.0.2.99"  # an own line in the sample opl list
COMMAND_TIMEOUT_S = 60.0
# Runs the real CLI with the edit step wrapped to SIGKILL the process before or after it.
CRASHING_APPROVE = """
import os, signal, sys
from oplguard.cli import main
from oplguard.removals import review
real, point = review.delist, sys.argv[1]
def dying(*args, **kwargs):
    if point == "before-edit":
        os.kill(os.getpid(), signal.SIGKILL)
    outcome = real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
    return outcome
review.delist = dying
sys.exit(main(sys.argv[2:]))
"""


def listed(config: Path) -> bool:
    cfg = config_loader.load(config)
    block = load_list(next(each for each in cfg.lists if each.name == "opl"))
    return block.lookup(IP, datetime.now(UTC)) is not None


@pytest.mark.parametrize("point", ["before-edit", "after-edit"])
def test_kill_9_between_decision_and_edit_is_repaired_by_the_next_command(
    write_config: ConfigWriter, tmp_path: Path, point: str
) -> None:
    config = write_web_config(write_config, tmp_path)
    store = RemovalStore(Database(config_loader.load(config).tracking_db))
    try:
        contact = Contact("postmaster@example.net", "fixed", "198.51.100.7", 1.0)
        rid = store.submit(IP, ["opl"], contact)[0].id
        args = ["removals", "approve", rid, "--note", "ok", "--config", str(config)]
        crashed = subprocess.run(
            [sys.executable, "-c", CRASHING_APPROVE, point, *args],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
        assert store.require(rid).status == RequestStatus.APPROVED and len(store.journal()) == 1
        assert listed(config) == (point == "before-edit")  # the window the journal covers

        after = subprocess.run(
            [sys.executable, "-m", "oplguard", "removals", "list", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        assert after.returncode == 0, after.stderr
        assert f"repair: request {rid} ({IP})" in after.stderr
        assert "interrupted" in after.stderr
        assert not listed(config)
        request = store.require(rid)
        assert request.status == RequestStatus.APPROVED and request.outcome and request.note == "ok"
        assert store.journal() == []
        assert store.audit(rid)[-1].action == "approve-repaired"
    finally:
        store.db.close()
