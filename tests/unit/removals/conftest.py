"""Fixtures: a removal store on a real SQLite file, a ListStore over copies of the sample lists."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import SAMPLE_LISTS

from oplguard.config.model import ListConfig
from oplguard.lists.store import ListStore
from oplguard.removals.store import RemovalStore
from oplguard.storage.db import Database


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RemovalStore]:
    db = Database(f"sqlite:///{tmp_path / 'removals.db'}")
    try:
        yield RemovalStore(db)
    finally:
        db.close()


@pytest.fixture
def lists(tmp_path: Path) -> ListStore:
    folder = tmp_path / "lists"
    shutil.copytree(SAMPLE_LISTS, folder)
    store = ListStore(
        [
            ListConfig("opl", folder / "opl.txt", "open-proxy"),
            ListConfig("zombies", folder / "zombies.txt", "zombie"),
        ]
    )
    store.load()
    return store
