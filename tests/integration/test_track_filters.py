"""``oplguard track`` finds a message the way an admin asks: Message-ID with or without
angle brackets, sender, recipient (spamd user or To/Cc), queue id; records written by the
real server over spamd."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiospamc
import pytest

from oplguard.cli import main
from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.integration.service_process import wait_for
from tests.samples import message

pytestmark = pytest.mark.integration
FAST = "[tracking]\nbatch_interval_s = 0.1\n"


def test_track_filters_find_the_message_as_an_admin_asks(
    write_config: ConfigWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(top=f'tracking_db = "sqlite:///{tmp_path}/t.db"', extra=FAST)

    def ids(*args: str) -> list[str]:
        assert main(["track", "--config", str(config), "--json", *args]) == 0
        return sorted(str(r["message_id"]) for r in json.loads(capsys.readouterr().out))

    async def send(port: int) -> None:
        await aiospamc.check(
            message("listed-deep.eml"), host="127.0.0.1", port=port, user="carol@example.net"
        )
        await aiospamc.check(message("clean.eml"), host="127.0.0.1", port=port)

    with RunningServer(config) as running:
        asyncio.run(send(running.address()[1]))
        wait_for(lambda: len(ids()) == 2)
    deep, clean = ["<deep-1@example.com>"], ["<clean-1@example.org>"]
    assert ids("--message-id", "<deep-1@example.com>") == deep
    assert ids("--message-id", "deep-1@example.com") == deep
    assert ids("--sender", "BOB@example.com") == deep  # envelope and From, any case
    assert ids("--sender", "alice@example.org") == clean  # From only
    assert ids("--sender", "@example.org") == clean
    assert ids("--sender", "@ample.org") == []  # a domain is a whole domain
    assert ids("--recipient", "carol@example.net") == deep  # the spamd user
    assert ids("--recipient", "user@example.net") == sorted(deep + clean)  # To
    assert ids("--recipient", "@example.net") == sorted(deep + clean)
    assert ids("--recipient", "nobody@example.net") == []
    assert ids("--queue-id", "4XyZ1") == clean
    assert ids("--queue-id", "4XyZ1", "--sender", "bob@example.com") == []
