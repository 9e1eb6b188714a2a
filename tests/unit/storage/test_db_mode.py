"""The SQLite database (tracking and removals) is created owner-only whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from oplguard.storage.db import Database


def test_new_database_is_owner_only_under_umask_0(tmp_path: Path) -> None:
    path = tmp_path / "state" / "oplguard.db"
    old = os.umask(0)
    try:
        db = Database(f"sqlite:///{path}")
        db.conn.execute("CREATE TABLE t (a)")
        db.conn.execute("INSERT INTO t VALUES (1)")
        files = [p for p in tmp_path.joinpath("state").iterdir() if p.name.startswith("oplguard")]
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        db.conn.close()
    finally:
        os.umask(old)
    assert modes["oplguard.db"] == 0o600
    assert "oplguard.db-wal" in modes  # WAL mode: written while open
    assert set(modes.values()) == {0o600}, modes


def test_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Database(f"sqlite:///{path}").conn.close()
    path.chmod(0o640)  # e.g. readable by the web service's group, chosen by the admin
    Database(f"sqlite:///{path}").conn.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
