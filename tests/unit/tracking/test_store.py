"""The tracking store on a real SQLite file: search by IP at any hop, retention, full disk."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.samples import message

from oplguard import config as config_mod
from oplguard.config import TrackingConfig
from oplguard.lists import ListStore
from oplguard.policy.scanner import Scanner
from oplguard.tracking.db import StoreError
from oplguard.tracking.record import TrackRecord, build_record
from oplguard.tracking.store import Filter, TrackingStore
from oplguard.tracking.writer import TrackingWriter


def record(name: str, at: float | None = None) -> TrackRecord:
    cfg = config_mod.load(config_mod.default_config_path())
    lists = ListStore(cfg.lists)
    lists.load()
    body = message(name)
    built = build_record(Scanner(cfg, lists).scan(body), body, name, "mx1", "")
    if at is None:
        return built
    return built._replace(at=at)


def test_ip_search_finds_any_hop_and_retention_removes_old(tmp_path: Path) -> None:
    store = TrackingStore.open(str(tmp_path / "t.db"))
    now = time.time()
    store.insert([record("listed-deep.eml", now - 100 * 86400), record("listed-deep.eml")])
    store.insert([record("clean.eml")])
    assert len(store.search(Filter(ip="198.51.100.7"))) == 2
    assert len(store.search(Filter(ip="198.51.100.7", since=now - 3600))) == 1
    assert store.prune(now - 30 * 86400, 0) == 1
    assert store.prune(0, 1) == 1
    assert store.count() == 1
    store.close()


def test_full_database_fails_the_batch_whole(tmp_path: Path) -> None:
    store = TrackingStore.open(str(tmp_path / "t.db"))
    pages = store.db.query("PRAGMA page_count")[0][0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError, match="full"):
        store.insert([record("listed-deep.eml") for _ in range(200)])
    assert store.count() == 0
    store.close()


def test_writer_drops_and_counts_past_its_queue_limit(tmp_path: Path) -> None:
    events: list[tuple[str, int]] = []
    settings = TrackingConfig(max_queue=2, batch_interval_s=3600, batch_size=100)
    writer = TrackingWriter(str(tmp_path / "t.db"), settings, lambda k, n: events.append((k, n)))
    writer.start()
    for _ in range(3):
        writer.submit(record("clean.eml"))
    writer.close(30)
    assert writer.stats.dropped == 1
    assert writer.stats.written == 2
    assert ("dropped", 1) in events
