"""Tracking survives its database: PostgreSQL stopped, killed, or losing a COMMIT's
acknowledgement, and SQLite on a full disk — every scored message is tracked exactly once.

Real parts: the real server (in-process, on loopback), a PostgreSQL cluster of the
test's own, a loopback TCP proxy in front of it, a tmpfs mounted for the test.  Each
test prints sent / answered / rows.  The writer's backoff is shortened (module
constants) so an outage is retried within a second or two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiospamc
import pytest

from oplguard.tracking import writer as writer_mod
from oplguard.tracking.writer import TrackingWriter
from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.integration.postgres import Cluster
from tests.integration.service_process import wait_for
from tests.samples import message

pytestmark = pytest.mark.integration
# Small batches, written often: several batches cross each fault.
SETTINGS = '[tracking]\nbatch_interval_s = 0.1\nbatch_size = 5\nhost = "mx1.test"\n'
# listed-deep.eml: 3 relays, a listed IP at hop 3 (spam).
RELAYS = 3
RECOVERY_TIMEOUT_S = 120.0


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_mod, "RETRY_MIN_S", 0.2)
    monkeypatch.setattr(writer_mod, "RETRY_MAX_S", 1.0)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    own = Cluster()
    own.start()
    try:
        yield own
    finally:
        own.close()


def numbered(serial: int) -> bytes:
    """listed-deep.eml with a Message-ID of its own."""
    return message("listed-deep.eml").replace(
        b"<deep-1@example.com>", f"<fault-{serial}@example.com>".encode()
    )


class Load:
    """Sends numbered messages one after another and counts the right answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent = 0
        self.answered = 0

    def send(self, count: int) -> None:
        async def run() -> None:
            for _ in range(count):
                self.sent += 1
                response = await aiospamc.check(
                    numbered(self.sent), host="127.0.0.1", port=self.port
                )
                self.answered += response.headers["Spam"].value is True

        asyncio.run(run())


def writer_of(running: RunningServer) -> TrackingWriter:
    assert running.server is not None
    writer = running.server.obs.writer
    assert writer is not None
    return writer


def settled(writer: TrackingWriter, load: Load) -> None:
    """Wait until every answered message is written and nothing waits in the queue."""
    wait_for(lambda: writer.stats.written >= load.sent and not writer.queue, RECOVERY_TIMEOUT_S)


def check_rows(rows: list[tuple[Any, ...]], load: Load, label: str) -> None:
    """rows: (message_id, ip rows) per stored message; exactly one per message sent."""
    ids = [row[0] for row in rows]
    print(f"{label}: sent {load.sent} / answered {load.answered} / rows {len(ids)} "
          f"(distinct {len(set(ids))})")  # fmt: skip
    assert load.answered == load.sent
    assert sorted(ids) == sorted(f"<fault-{n}@example.com>" for n in range(1, load.sent + 1))
    # Whole batches only: every message has all its relay rows, none twice.
    assert {ips for _mid, ips in rows} == {RELAYS}


ROWS_SQL = (
    "SELECT m.message_id, (SELECT COUNT(*) FROM oplguard_message_ips i "
    "WHERE i.record_id = m.record_id) FROM oplguard_messages m"
)


def pg_rows(url: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return [tuple(row) for row in conn.execute(ROWS_SQL).fetchall()]


def tracking_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "oplguard.tracking" and r.levelno == level
    ]


@pytest.fixture
def pg_db(cluster: Cluster) -> Iterator[str]:
    import psycopg

    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS faults WITH (FORCE)")
        conn.execute("CREATE DATABASE faults")
    yield cluster.url.rsplit("/", 1)[0] + "/faults"


@pytest.mark.parametrize("fault", ["stopped", "killed"])
def test_postgresql_outage_loses_and_duplicates_nothing(
    fault: str,
    cluster: Cluster,
    pg_db: str,
    write_config: ConfigWriter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="oplguard.tracking")
    config = write_config(top=f'tracking_db = "{pg_db}"', extra=SETTINGS)
    with RunningServer(config) as running:
        _, port = running.address()
        writer, load = writer_of(running), Load(port)
        load.send(10)
        settled(writer, load)
        cluster.stop() if fault == "stopped" else cluster.kill()
        try:
            load.send(30)  # scored while the database is down
            wait_for(lambda: writer.stats.state == "failing", RECOVERY_TIMEOUT_S)
            status = running.server.obs.status()["tracking"]
            assert status["state"] == "failing" and status["last_error_at"] > 0
            errors_while_down = writer.stats.errors
        finally:
            cluster.start()
        load.send(10)
        settled(writer, load)
        assert running.server.obs.status()["tracking"]["state"] == "ok"
    check_rows(pg_rows(pg_db), load, f"PostgreSQL {fault}")
    # Paced: far fewer attempts than messages scored during the outage, one line each way.
    assert errors_while_down < 30
    assert len(tracking_lines(caplog, logging.ERROR)) == 1
    assert len([m for m in tracking_lines(caplog, logging.WARNING) if "back after" in m]) == 1


class CommitDropper:
    """A loopback TCP proxy to PostgreSQL that, once armed, forwards the next COMMIT,
    waits for the server's answer (the commit is done), and closes both connections
    instead of passing the answer on: a lost COMMIT acknowledgement.  A fault a real
    network produces rarely and at random, made here on purpose."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.armed = threading.Event()
        self.dropped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            commit = threading.Event()
            threading.Thread(target=self._up, args=(client, server, commit), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, commit), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, commit: threading.Event) -> None:
        self._pump(client, server, lambda data: self._see_commit(data, commit))

    def _see_commit(self, data: bytes, commit: threading.Event) -> bool:
        if b"COMMIT" in data and self.armed.is_set():
            self.armed.clear()
            commit.set()
        return True

    def _down(self, server: socket.socket, client: socket.socket, commit: threading.Event) -> None:
        def forward(data: bytes) -> bool:
            if not commit.is_set():
                return True
            # The answer to the COMMIT is here: the commit is done.  Say so before closing:
            # the other pump may be closing the same sockets at this moment (OSError).
            self.dropped.set()
            for sock in (client, server):  # shutdown: wakes the other pump's recv
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            return False

        self._pump(server, client, forward)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, keep: Callable[[bytes], bool]) -> None:
        try:
            while data := src.recv(65536):
                if not keep(data):
                    return
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def test_lost_commit_acknowledgement_is_not_written_twice(
    cluster: Cluster, pg_db: str, write_config: ConfigWriter
) -> None:
    proxy = CommitDropper(cluster.port)
    url = pg_db.replace(f":{cluster.port}/", f":{proxy.port}/")
    config = write_config(top=f'tracking_db = "{url}"', extra=SETTINGS)
    try:
        with RunningServer(config) as running:
            _, port = running.address()
            writer, load = writer_of(running), Load(port)
            load.send(10)
            settled(writer, load)
            proxy.armed.set()
            load.send(20)
            assert proxy.dropped.wait(RECOVERY_TIMEOUT_S)
            settled(writer, load)
            assert writer.stats.replayed == 1  # the retry found its batch committed
            assert writer.stats.errors >= 1
    finally:
        proxy.close()
    check_rows(pg_rows(pg_db), load, "COMMIT acknowledgement lost")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the file system is full; returns it."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_sqlite_on_a_full_disk_catches_up_when_space_returns(
    small_tmpfs: Path, write_config: ConfigWriter, caplog: pytest.LogCaptureFixture
) -> None:
    db = small_tmpfs / "tracking.db"
    config = write_config(top=f'tracking_db = "{db}"', extra=SETTINGS)
    with RunningServer(config) as running:
        _, port = running.address()
        writer, load = writer_of(running), Load(port)
        load.send(10)
        settled(writer, load)
        filler = fill(small_tmpfs)
        try:
            load.send(40)
            wait_for(lambda: writer.stats.state == "failing", RECOVERY_TIMEOUT_S)
            assert "full" in writer.stats.last_error
        finally:
            filler.unlink()
        load.send(5)
        settled(writer, load)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = [tuple(row) for row in conn.execute(ROWS_SQL).fetchall()]
    check_rows(rows, load, "SQLite disk full")
    assert len(tracking_lines(caplog, logging.ERROR)) == 1
