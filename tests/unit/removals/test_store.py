"""RemovalStore on a real SQLite file: submit, merge, decide, audit, counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from oplguard.removals.model import REQUEST_ID, AuditEntry, Contact, ReviewError
from oplguard.removals.store import RemovalStore, new_request_id
from oplguard.removals.vocabulary import RequestStatus
from oplguard.storage.db import Database


def contact(at: float, email: str = "a@example.net", client: str = "198.51.100.1") -> Contact:
    return Contact(email, "fixed it", client, at)


def test_request_ids_are_random_base32() -> None:
    ids = {new_request_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(REQUEST_ID.fullmatch(i) for i in ids)


def test_submit_then_duplicate_merges(store: RemovalStore) -> None:
    first, merged = store.submit("192.0.2.99", ["opl"], contact(100.0))
    assert (first.status, first.lists, first.requesters, merged) == (
        RequestStatus.PENDING,
        ("opl",),
        1,
        False,
    )
    second, merged = store.submit("192.0.2.99", ["opl"], contact(100.0, "b@example.net"))
    assert merged and second.id == first.id and second.requesters == 2
    assert [c.email for c in store.contacts(first.id)] == ["a@example.net", "b@example.net"]
    assert [e.action for e in store.audit(first.id)] == ["submitted", "merged"]


def test_decided_request_frees_the_ip_for_a_new_one(store: RemovalStore) -> None:
    first, _ = store.submit("192.0.2.99", ["opl"], contact(1.0))
    store.decide(
        first.id,
        RequestStatus.APPROVED,
        AuditEntry(2.0, first.id, "cli:root", RequestStatus.APPROVED, "ok"),
    )
    second, merged = store.submit("192.0.2.99", ["opl"], contact(3.0))
    assert not merged and second.id != first.id
    decided = store.require(first.id)
    assert (decided.status, decided.note, decided.decided_by, decided.decided_at) == (
        RequestStatus.APPROVED,
        "ok",
        "cli:root",
        2.0,
    )


def test_deciding_twice_is_refused(store: RemovalStore) -> None:
    request, _ = store.submit("192.0.2.99", ["opl"], contact(1.0))
    entry = AuditEntry(2.0, request.id, "x", RequestStatus.APPROVED)
    store.decide(request.id, RequestStatus.APPROVED, entry)
    with pytest.raises(ReviewError, match="not pending"):
        store.decide(request.id, RequestStatus.DENIED, entry)
    assert [e.action for e in store.audit(request.id)] == ["submitted", RequestStatus.APPROVED]


def test_statuses_are_stored_as_their_words_and_read_back_as_members(
    store: RemovalStore,
) -> None:
    """The database holds ``pending``/``approved`` (what the partial index and older rows use),
    never an enum's name or repr; what comes back is the member."""
    request, _ = store.submit("192.0.2.99", ["opl"], contact(1.0))
    assert store.db.query("SELECT status FROM removal_requests") == [("pending",)]
    entry = AuditEntry(2.0, request.id, "x", RequestStatus.APPROVED)
    store.decide(request.id, RequestStatus.APPROVED, entry)
    assert store.db.query("SELECT status FROM removal_requests") == [("approved",)]
    assert store.db.query("SELECT action FROM removal_audit ORDER BY at") == [
        ("submitted",),
        ("approved",),
    ]
    assert store.require(request.id).status is RequestStatus.APPROVED
    assert [r.status for r in store.requests(RequestStatus.APPROVED)] == [RequestStatus.APPROVED]


def test_unknown_request(store: RemovalStore) -> None:
    assert store.get("aaaaaaaaaaaaaaaa") is None
    with pytest.raises(ReviewError, match="no removal request"):
        store.require("aaaaaaaaaaaaaaaa")


def test_counts_per_client_and_ip(store: RemovalStore) -> None:
    store.submit("192.0.2.99", ["opl"], contact(10.0, client="c1"))
    store.submit("192.0.2.99", ["opl"], contact(20.0, client="c2"))
    store.submit("192.0.2.137", ["opl"], contact(30.0, client="c1"))
    assert store.submissions_since(client="c1", since=0.0) == 2
    assert store.submissions_since(client="c1", since=25.0) == 1
    assert store.submissions_since(ip="192.0.2.99", since=0.0) == 2
    assert [r.ip for r in store.requests(RequestStatus.PENDING)] == ["192.0.2.137", "192.0.2.99"]


def test_two_processes_share_one_pending_request(tmp_path: Path) -> None:
    """Two connections (as two web processes) merge into one request via the unique index."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    one, two = RemovalStore(Database(url)), RemovalStore(Database(url))
    first, _ = one.submit("203.0.113.66", ["opl"], contact(1.0))
    second, merged = two.submit("203.0.113.66", ["opl"], contact(2.0))
    assert merged and second.id == first.id
