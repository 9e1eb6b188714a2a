"""Message tracking against real SQLite and a real PostgreSQL, written by the real server."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import threading
from pathlib import Path

import aiospamc
import pytest

from oplguard.cli import main
from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.integration.postgres import fresh_postgres_db, postgres_url
from tests.integration.service_process import ServiceProcess, wait_for
from tests.samples import message

__all__ = ["fresh_postgres_db", "postgres_url"]
pytestmark = pytest.mark.integration
FAST = '[tracking]\nbatch_interval_s = 0.1\nhost = "mx1.test"\n'


@pytest.fixture(params=["sqlite", "postgresql"])
def tracking_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracking.db'}"
    return str(request.getfixturevalue("fresh_postgres_db"))


def track(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["track", "--config", str(config), "--json", *args]) == 0
    return list(json.loads(capsys.readouterr().out))


async def check(port: int, name: str) -> None:
    await aiospamc.check(message(name), host="127.0.0.1", port=port)


def test_rejected_message_record_names_offending_ip_and_hop(
    write_config: ConfigWriter, tracking_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(top=f'tracking_db = "{tracking_db}"', extra=FAST)
    with RunningServer(config) as running:
        _, port = running.address()
        asyncio.run(check(port, "listed-deep.eml"))
        asyncio.run(check(port, "clean.eml"))
        wait_for(lambda: len(track(config, capsys)) == 2)
    [record] = track(config, capsys, "--message-id", "<deep-1@example.com>")
    assert record["action"] == "delete"
    assert (record["offending_ip"], record["offending_hop"]) == ("203.0.113.66", 3)
    assert record["offending_list"] == "opl"
    assert record["host"] == "mx1.test"
    assert record["header_from"] == "bob@example.com"
    assert "203.0.113.66 at hop 3" in str(record["reason"])
    detail = record["detail"]
    assert isinstance(detail, dict)
    assert {"ip": "203.0.113.66", "hop": 3, "result": "listed:opl"} in detail["checked"]
    # "What did we see from this IP at any hop?" finds the message by its hop-2 relay.
    assert [r["message_id"] for r in track(config, capsys, "--ip", "198.51.100.7")] == [
        "<deep-1@example.com>"
    ]
    assert len(track(config, capsys, "--ip", "192.0.2.10", "--since", "1h")) == 2
    assert len(track(config, capsys, "--action", "pass")) == 1
    assert track(config, capsys, "--host", "mx2.test") == []
    assert main(["track", "--config", str(config), "--ip", "203.0.113.66"]) == 0
    text = capsys.readouterr().out
    assert "offending ip=203.0.113.66 hop=3 list=opl" in text


def test_graceful_shutdown_writes_every_queued_record(
    write_config: ConfigWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A batch interval far beyond the test: only the shutdown flush can write them.
    slow = "[tracking]\nbatch_interval_s = 3600\nbatch_size = 1000\n"
    config = write_config(top=f'tracking_db = "{tmp_path / "t.db"}"', extra=slow)
    with RunningServer(config) as running:
        _, port = running.address()

        async def many() -> None:
            await asyncio.gather(*(check(port, "listed-deep.eml") for _ in range(25)))

        asyncio.run(many())
    assert len(track(config, capsys, "--limit", "1000")) == 25


def test_kill_9_under_load_leaves_a_readable_database(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    db = tmp_path / "t.db"
    config = write_config(
        top=f'tracking_db = "{db}"\ncontrol_socket = "{tmp_path / "c.sock"}"', extra=FAST
    )
    stop = threading.Event()
    with ServiceProcess(config, tmp_path / "serve.log") as service:

        def load() -> None:
            async def run() -> None:
                while not stop.is_set():
                    try:
                        await check(service.port, "listed-deep.eml")
                    except Exception:  # the kill ends the load; nothing to assert here
                        return

            asyncio.run(run())

        threads = [threading.Thread(target=load) for _ in range(3)]
        for thread in threads:
            thread.start()

        def committed() -> int:
            with sqlite3.connect(db) as conn:
                try:
                    return int(conn.execute("SELECT COUNT(*) FROM oplguard_messages").fetchone()[0])
                except sqlite3.OperationalError:
                    return 0

        wait_for(lambda: committed() >= 20, 60.0)
        service.signal(signal.SIGKILL)
        assert service.proc is not None
        assert service.proc.wait(30) == -signal.SIGKILL
        stop.set()
        for thread in threads:
            thread.join(30)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT COUNT(*) FROM oplguard_messages").fetchone()[0]
        orphans = conn.execute(
            "SELECT COUNT(*) FROM oplguard_messages m WHERE NOT EXISTS "
            "(SELECT 1 FROM oplguard_message_ips i WHERE i.record_id = m.record_id)"
        ).fetchone()[0]
    assert rows >= 20
    assert orphans == 0  # whole batches only: every message has its relay rows


def test_locked_database_scoring_continues_and_catches_up(
    write_config: ConfigWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "t.db"
    config = write_config(top=f'tracking_db = "{db}"', extra=FAST)
    with RunningServer(config) as running:
        _, port = running.address()
        assert running.server is not None
        writer = running.server.obs.writer
        assert writer is not None
        asyncio.run(check(port, "clean.eml"))
        wait_for(lambda: writer.stats.written == 1)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            response = asyncio.run(
                aiospamc.check(message("listed-deep.eml"), host="127.0.0.1", port=port)
            )
            assert response.headers["Spam"].value is True
            wait_for(lambda: writer.stats.errors >= 1, 60.0)
            assert "locked" in writer.stats.last_error
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        wait_for(lambda: writer.stats.written == 2, 60.0)
    assert len(track(config, capsys)) == 2


def test_unreachable_postgresql_scoring_continues(write_config: ConfigWriter) -> None:
    from tests.integration.postgres import free_port

    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    config = write_config(top=f'tracking_db = "{url}"', extra=FAST)
    with RunningServer(config) as running:
        _, port = running.address()
        assert running.server is not None
        writer = running.server.obs.writer
        assert writer is not None
        response = asyncio.run(
            aiospamc.check(message("listed-deep.eml"), host="127.0.0.1", port=port)
        )
        assert response.headers["Spam"].value is True
        wait_for(lambda: writer.stats.errors >= 1, 60.0)
        assert "cannot connect" in writer.stats.last_error
        assert running.server.obs.status()["tracking"]["queued"] == 1
