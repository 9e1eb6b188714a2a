"""The operations summary on a real SQLite store: buckets, hits, offenders, overrides, the cut."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.samples import message

from oplguard.config import loader as config_loader
from oplguard.lists.store import ListStore
from oplguard.policy.scanner import Scanner
from oplguard.policy.verdict import Verdict
from oplguard.tracking import summary as summary_mod
from oplguard.tracking.record import TrackRecord, build_record
from oplguard.tracking.store import TrackingStore
from oplguard.tracking.summary import Summarizer, Window, hop_label, network_of

START = 1_800_000_000.0  # a bucket boundary for 300 s buckets
WINDOW = Window(START, START + 3600, 300)


def rec(
    at: float,
    action: str,
    host: str = "mx1",
    offending: tuple[str, int, str] = ("", 0, ""),
    ips: tuple[tuple[str, int, str], ...] = (),
) -> TrackRecord:
    ip, hop, list_name = offending
    return TrackRecord(
        at=at,
        host=host,
        message_id="<m@example.test>",
        queue_id="",
        sender="",
        header_from="",
        connecting_ip="192.0.2.10",
        action=action,
        score=0.0,
        required_score=5.0,
        offending_ip=ip,
        offending_hop=hop,
        offending_list=list_name,
        reason="",
        user="",
        ips=tuple((seen_ip, seen_hop, result) for seen_ip, seen_hop, result in ips),
        verdict=Verdict(0.0, 5.0, (), (), (), action, ()),
    )


@pytest.fixture
def store(tmp_path: Path) -> TrackingStore:
    return TrackingStore.open(str(tmp_path / "t.db"))


def test_verdicts_fall_in_their_buckets_by_action(store: TrackingStore) -> None:
    store.insert(
        [
            rec(START, "pass"),  # the first second of bucket 0
            rec(START + 299.9, "delete"),  # its last
            rec(START + 300, "delete"),  # bucket 1
            rec(START + 3599, "reject"),  # the last bucket
            rec(START - 1, "delete"),  # before the window
            rec(START + 3600, "delete"),  # after it
        ]
    )
    got = Summarizer(store.db).summary(WINDOW)
    assert got.messages == 4 and not got.is_cut and got.read_from == START
    assert got.timeline["pass"][0] == 1
    assert got.timeline["delete"][:2] == [1, 1] and sum(got.timeline["delete"]) == 2
    assert got.timeline["reject"][11] == 1 and len(got.timeline["reject"]) == 12
    assert got.actions == {"reject": 1, "delete": 2, "tag": 0, "pass": 1}


def test_hits_by_list_and_hop_overrides_and_offenders(store: TrackingStore) -> None:
    deep = ("203.0.113.66", 3, "listed:opl,zombies")
    store.insert(
        [
            rec(START + 10, "delete", offending=("203.0.113.66", 3, "opl"), ips=(deep,)),
            rec(START + 20, "delete", offending=("203.0.113.66", 3, "opl"), ips=(deep,)),
            rec(
                START + 30,
                "delete",
                offending=("203.0.113.7", 12, "opl"),
                ips=(("203.0.113.7", 12, "listed:opl;error:dnsbl"),),
            ),
            rec(
                START + 40,
                "reject",
                offending=("2001:db8:1:2::5", 1, "zombies"),
                ips=(("2001:db8:1:2::5", 1, "listed:zombies"),),
            ),
            rec(
                START + 50,
                "pass",
                ips=(("198.51.100.7", 2, "allowed:198.51.100.0/24"), ("192.0.2.10", 1, "clean")),
            ),
        ]
    )
    got = Summarizer(store.db).summary(WINDOW)
    assert got.hits_by_list == {"opl": 3, "zombies": 3}
    assert got.hits_by_hop == {"1": 1, "3": 4, "10+": 1}
    assert got.allowed == {"198.51.100.0/24": 1}
    assert [(o.name, o.messages) for o in got.top_ips] == [
        ("203.0.113.66", 2),
        ("2001:db8:1:2::5", 1),
        ("203.0.113.7", 1),
    ]
    networks = {o.name: (o.messages, o.ips) for o in got.top_networks}
    assert networks == {"203.0.113.0/24": (3, 2), "2001:db8:1::/48": (1, 1)}


def test_host_filter_and_host_list(store: TrackingStore) -> None:
    store.insert(
        [rec(START + i, *pair) for i, pair in enumerate([("delete", "mx1"), ("pass", "mx2")] * 2)]
    )
    got = Summarizer(store.db).summary(WINDOW, host="mx2")
    assert got.actions["pass"] == 2 and got.actions["delete"] == 0
    assert got.hosts == (("mx1", 2), ("mx2", 2))
    assert Summarizer(store.db).summary(WINDOW, host="nope").messages == 0


def test_a_busy_window_is_cut_at_the_newest_rows(
    store: TrackingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_mod, "MAX_SCAN_ROWS", 5)
    store.insert([rec(START + 60 * i, "delete") for i in range(8)])
    got = Summarizer(store.db).summary(WINDOW)
    assert got.is_cut and got.read_from == START + 180 and got.messages == 5


def test_window_queries_use_the_at_index(store: TrackingStore) -> None:
    plan = store.db.query(
        "EXPLAIN QUERY PLAN SELECT action, COUNT(*) FROM oplguard_messages "
        "WHERE at >= ? AND at < ? GROUP BY action",
        [START, START + 1],
    )
    text = " ".join(str(row[-1]) for row in plan)
    assert "oplguard_messages_at" in text, text


def test_an_empty_store_summarizes_as_empty(tmp_path: Path) -> None:
    from oplguard.storage.db import Database

    got = Summarizer(Database(str(tmp_path / "fresh.db"))).summary(WINDOW)
    assert got.messages == 0 and got.top_ips == () and got.hits_by_list == {}


def test_records_of_real_scans_are_read_back() -> None:
    """The relay results the scanner writes are the ones the summary parses."""
    cfg = config_loader.load(config_loader.default_config_path())
    lists = ListStore(cfg.lists)
    lists.load()
    body = message("listed-deep.eml")
    built = build_record(Scanner(cfg, lists).scan(body), "<id>", "mx1", "")
    store = TrackingStore.open(":memory:")
    store.insert([built])
    window = Window(built.at - 10, built.at + 10, 5)
    got = Summarizer(store.db).summary(window)
    listed = [seen for seen in built.ips if seen[2].startswith("listed:")]
    expected: dict[str, int] = {}
    for seen in listed:
        for name in seen[2].removeprefix("listed:").split(";")[0].split(","):
            expected[name] = expected.get(name, 0) + 1
    assert listed and got.hits_by_list == expected
    assert got.top_ips[0].name == built.offending_ip


def test_labels() -> None:
    assert [hop_label(h) for h in (1, 10, 11, 500)] == ["1", "10", "10+", "10+"]
    assert network_of("192.0.2.77") == "192.0.2.0/24"
    assert network_of("2001:db8:aa:bb::1") == "2001:db8:aa::/48"
    assert network_of("not-an-ip") == "not-an-ip"
    with pytest.raises(KeyError):
        Window.named("2h", START)
    named = Window.named("1h", START + 1)
    assert named.end == START + 300 and named.buckets == 12
