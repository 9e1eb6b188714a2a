"""Several processes on one SQLite database: none is told "database is locked".

A service and a CLI routinely open the same file at the same moment (``oplguard
track`` while the service creates its tracking database; an approval from the CLI
while the web service decides). SQLite's busy timeout covers ordinary lock waits,
but two of its answers come at once without it: a second connection switching a new
database to WAL, and a deferred transaction that read before another process wrote.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

from oplguard.storage.db import Database

ROUNDS = 60
OPENERS = 3
EDITS = 300
SPAWN_ALLOWANCE_S = 2.0


def test_connections_opening_a_new_database_together_all_succeed(tmp_path: Path) -> None:
    errors: list[str] = []
    for round_number in range(ROUNDS):
        url = f"sqlite:///{tmp_path / f'{round_number}.db'}"
        start = threading.Barrier(OPENERS)

        def open_and_create(url: str = url, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                db = Database(url)
                db.create_schema(["CREATE TABLE IF NOT EXISTS t (x INTEGER)"])
                db.query("SELECT COUNT(*) FROM t")
                db.close()
            except Exception as err:  # the assertion below names it
                errors.append(f"{url}: {err}")

        threads = [threading.Thread(target=open_and_create) for _ in range(OPENERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


def read_then_write(url: str, start_at: float) -> int:
    """From ``start_at`` on, EDITS transactions that read a counter and write it plus one."""
    db = Database(url)
    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(EDITS):
        with db.lock, db.transaction():
            (value,) = db.conn.execute("SELECT x FROM counter").fetchone()
            db.conn.execute("UPDATE counter SET x = ?", (value + 1,))
    db.close()
    return EDITS


def test_two_processes_reading_then_writing_lose_no_edit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'counter.db'}"
    db = Database(url)
    db.create_schema(["CREATE TABLE IF NOT EXISTS counter (x INTEGER)"])
    db.execute("INSERT INTO counter VALUES (0)")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        # Both start together once both processes are up (spawning takes a while).
        start_at = time.time() + SPAWN_ALLOWANCE_S
        done = pool.starmap(read_then_write, [(url, start_at), (url, start_at)])
    assert done == [EDITS, EDITS]
    assert db.query("SELECT x FROM counter") == [(2 * EDITS,)]
    db.close()
