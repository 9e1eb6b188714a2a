"""The operations summary on a real PostgreSQL, as on SQLite: same buckets, hits, offenders, cut.

PostgreSQL rounds where SQLite truncates (CAST of a float to an integer), and
takes ``%`` in SQL text as a placeholder: both are where the engines differ.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oplguard.tracking import summary as summary_mod
from oplguard.tracking.store import TrackingStore
from oplguard.tracking.summary import Summarizer, Summary
from tests.integration.postgres import fresh_postgres_db, postgres_url
from tests.unit.tracking.test_summary import START, WINDOW, rec

__all__ = ["fresh_postgres_db", "postgres_url"]
pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TrackingStore:
    if request.param == "sqlite":
        return TrackingStore.open(f"sqlite:///{tmp_path / 't.db'}")
    return TrackingStore.open(str(request.getfixturevalue("fresh_postgres_db")))


def fill(store: TrackingStore) -> None:
    deep = ("203.0.113.66", 3, "listed:opl,zombies")
    store.insert(
        [
            rec(START, "pass", "mx1"),
            rec(START + 299.9, "delete", "mx1", ("203.0.113.66", 3, "opl"), (deep,)),  # bucket 0
            rec(START + 450, "delete", "mx2", ("203.0.113.66", 3, "opl"), (deep,)),  # 1.5: 1
            rec(
                START + 3599.6,
                "reject",
                "mx2",
                ("192.0.2.99", 1, "opl"),
                (("192.0.2.99", 1, "listed:opl"),),
            ),
            rec(START + 60, "pass", "mx1", ips=(("198.51.100.7", 12, "allowed:198.51.100.0/24"),)),
            rec(START - 1, "delete", "mx1"),
        ]
    )


def test_same_summary_on_both_engines(store: TrackingStore) -> None:
    fill(store)
    got: Summary = Summarizer(store.db).summary(WINDOW)
    assert got.messages == 5 and not got.is_cut
    assert got.timeline["pass"][0] == 2
    assert got.timeline["delete"][:2] == [1, 1]
    assert got.timeline["reject"][11] == 1
    assert got.hits_by_list == {"opl": 3, "zombies": 2}
    assert got.hits_by_hop == {"1": 1, "3": 4}
    assert got.allowed == {"198.51.100.0/24": 1}
    assert [(o.name, o.messages) for o in got.top_ips] == [("203.0.113.66", 2), ("192.0.2.99", 1)]
    assert got.hosts == (("mx1", 3), ("mx2", 2))
    only = Summarizer(store.db).summary(WINDOW, host="mx2")
    assert only.messages == 2 and only.hits_by_list == {"opl": 2, "zombies": 1}
    store.close()


def test_cut_on_both_engines(store: TrackingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summary_mod, "MAX_SCAN_ROWS", 3)
    store.insert([rec(START + 100 * i, "delete") for i in range(6)])
    got = Summarizer(store.db).summary(WINDOW)
    assert got.is_cut and got.read_from == START + 300 and got.messages == 3
    store.close()
