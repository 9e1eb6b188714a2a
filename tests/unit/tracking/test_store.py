"""The tracking store on a real SQLite file: search by IP at any hop, retention, full disk."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from tests.samples import message

from oplguard.config import loader as config_loader
from oplguard.config.model import TrackingConfig
from oplguard.lists.store import ListStore
from oplguard.policy.scanner import Scanner
from oplguard.storage.db import StoreError
from oplguard.tracking.record import TrackRecord, build_record
from oplguard.tracking.report import status_line
from oplguard.tracking.store import Filter, TrackingStore
from oplguard.tracking.writer import RETRY_MAX_S, RETRY_MIN_S, TrackingWriter, retry_delay


def record(name: str, at: float | None = None) -> TrackRecord:
    cfg = config_loader.load(config_loader.default_config_path())
    lists = ListStore(cfg.lists)
    lists.load()
    body = message(name)
    built = build_record(Scanner(cfg, lists).scan(body), name, "mx1", "")
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


def test_writer_drops_and_counts_past_its_queue_limit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
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
    [line] = [r.getMessage() for r in caplog.records if "queue full" in r.getMessage()]
    assert "(2 records)" in line and "(1 so far)" in line


def test_a_retried_batch_that_was_committed_is_not_written_twice(tmp_path: Path) -> None:
    store = TrackingStore.open(str(tmp_path / "t.db"))
    batch = [record("listed-deep.eml"), record("clean.eml")]
    assert store.insert(batch, "batch-1") is True
    assert store.insert(batch, "batch-1") is False  # the retry after a lost acknowledgement
    assert store.count() == 2
    ips = store.db.query("SELECT COUNT(*) FROM oplguard_message_ips")[0][0]
    assert ips == sum(len(r.ips) for r in batch)
    store.close()


def test_retry_delays_grow_to_the_cap_with_jitter() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, rng) for n in range(1, 12)]
    assert all(RETRY_MIN_S * 0.5 <= d <= RETRY_MAX_S for d in delays)
    assert delays[0] <= RETRY_MIN_S and delays[-1] >= RETRY_MAX_S * 0.5
    assert len({round(d, 6) for d in delays[-4:]}) == 4  # capped, but not in lockstep


def test_new_records_do_not_wake_a_failing_writer(tmp_path: Path) -> None:
    # A directory where the database file should be: every attempt fails.
    (tmp_path / "t.db").mkdir()
    settings = TrackingConfig(batch_size=1, batch_interval_s=0.01)
    writer = TrackingWriter(str(tmp_path / "t.db"), settings)
    one = record("clean.eml")
    writer.start()
    try:
        writer.submit(one)
        deadline = time.monotonic() + 30
        while writer.stats.state != "failing" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.stats.state == "failing"
        started = time.monotonic()
        for _ in range(200):  # each used to start another attempt at once
            writer.submit(one)
            time.sleep(0.001)
        # The first attempt, then at most one per half RETRY_MIN_S (the shortest backoff).
        elapsed = time.monotonic() - started
        assert writer.stats.errors <= 2 + elapsed / (RETRY_MIN_S * 0.5)
        assert writer.stats.errors < 50
        status = writer.status()
        assert status["state"] == "failing" and status["next_retry_at"] > time.time() - 5
        assert "cannot open database" in status["last_error"]
        line = status_line(status, time.time())
        assert line.startswith("tracking: FAILING since ") and "last error at " in line
    finally:
        writer.close(1)
