"""Intake and review on real list files: not-listed answers, limits, approve edits the file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oplguard.errors import InputError
from oplguard.lists.store import ListStore
from oplguard.removals.intake import Limits, Submission, submit_request
from oplguard.removals.model import ReviewError
from oplguard.removals.ratelimit import RateLimited, WindowLimiter
from oplguard.removals.review import approve, deny
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import RequestStatus, SubmissionStatus

NOW = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
DEFAULT_LIMITS = Limits()


def submit(
    store: RemovalStore,
    lists: ListStore,
    ip: str,
    client: str = "c1",
    limits: Limits = DEFAULT_LIMITS,
    now: float = NOW,
) -> Submission:
    return submit_request(
        store,
        lists.snapshot,
        ip=ip,
        email="postmaster@example.net",
        explanation="closed the proxy",
        client=client,
        limits=limits,
        now=now,
    )


def listed(lists: ListStore, ip: str) -> list[str]:
    return [hit.list_name for hit in lists.snapshot.lookup(ip, datetime.fromtimestamp(NOW, UTC))]


def test_unlisted_ip_is_answered_at_once(store: RemovalStore, lists: ListStore) -> None:
    result = submit(store, lists, "198.51.100.1")
    assert (result.status, result.request) == (SubmissionStatus.NOT_LISTED, None)
    assert store.requests() == []


def test_bad_input_files_nothing(store: RemovalStore, lists: ListStore) -> None:
    with pytest.raises(InputError, match="scoped"):
        submit(store, lists, "fe80::1%eth0")
    assert store.requests() == []


def test_per_client_limit(store: RemovalStore, lists: ListStore) -> None:
    limits = Limits(per_client_per_hour=2, per_ip_per_day=10)
    for ip in ("192.0.2.99", "192.0.2.137"):
        submit(store, lists, ip, limits=limits)
    with pytest.raises(RateLimited, match="last hour") as caught:
        submit(store, lists, "192.0.2.151", limits=limits)
    assert caught.value.retry_after_s == 3600
    assert submit(store, lists, "192.0.2.151", client="c2", limits=limits).status == "submitted"
    assert submit(store, lists, "192.0.2.151", limits=limits, now=NOW + 3601).status == "merged"


def test_per_ip_limit(store: RemovalStore, lists: ListStore) -> None:
    limits = Limits(per_client_per_hour=10, per_ip_per_day=2)
    submit(store, lists, "192.0.2.99", client="a", limits=limits)
    submit(store, lists, "192.0.2.99", client="b", limits=limits)
    with pytest.raises(RateLimited, match=r"192\.0\.2\.99 had 2"):
        submit(store, lists, "192.0.2.99", client="c", limits=limits)


def test_lookup_window_limiter() -> None:
    limiter = WindowLimiter(2, 60.0)
    assert limiter.hit("a", 0.0) is None
    assert limiter.hit("a", 1.0) is None
    refusal = limiter.hit("a", 2.0)
    assert refusal is not None and refusal.retry_after_s == 58
    assert limiter.hit("b", 2.0) is None
    assert limiter.hit("a", 60.0) is None  # a new window
    small = WindowLimiter(1, 60.0, max_keys=2)
    for key in ("x", "y", "z"):
        small.hit(key, 0.0)
    assert small.hit("x", 0.0) is None  # forgotten, oldest first


def test_approve_removes_the_exact_entry(store: RemovalStore, lists: ListStore) -> None:
    opl = lists.configs[0].path
    before = opl.read_text()
    request = submit(store, lists, "192.0.2.99").request
    assert request is not None
    decided = approve(store, lists, request.id, note="thanks", actor="cli:t", now=NOW)
    assert decided.status == RequestStatus.APPROVED and decided.note == "thanks"
    assert decided.outcome[0].startswith("removed 192.0.2.99 from opl")
    after = opl.read_text()
    assert "\n192.0.2.99 " not in after and "\n192.0.2.99 " in before
    assert len(before.splitlines()) - len(after.splitlines()) == 1  # nothing else touched
    assert listed(lists, "192.0.2.99") == []
    assert [e.action for e in store.audit(request.id)] == ["submitted", RequestStatus.APPROVED]


def test_approve_inside_a_network_adds_an_exclusion(store: RemovalStore, lists: ListStore) -> None:
    request = submit(store, lists, "192.0.2.165").request  # inside 192.0.2.160/28
    assert request is not None
    decided = approve(store, lists, request.id, note="", actor="cli:t", now=NOW)
    assert "inside listed 192.0.2.160/28" in decided.outcome[0]
    assert listed(lists, "192.0.2.165") == []
    assert listed(lists, "192.0.2.164") == ["opl"]  # the rest of the range stays


def test_approve_exact_entry_inside_a_network_takes_both_steps(
    store: RemovalStore, lists: ListStore
) -> None:
    request = submit(store, lists, "192.0.2.166").request  # own line inside 192.0.2.160/28
    assert request is not None
    decided = approve(store, lists, request.id, note="", actor="cli:t", now=NOW)
    assert len(decided.outcome) == 2 and listed(lists, "192.0.2.166") == []


def test_deny_keeps_the_lists_and_twice_is_refused(store: RemovalStore, lists: ListStore) -> None:
    request = submit(store, lists, "192.0.2.99").request
    assert request is not None
    decided = deny(store, request.id, note="still open on port 8080", actor="cli:t", now=NOW)
    assert (decided.status, decided.note) == (RequestStatus.DENIED, "still open on port 8080")
    assert listed(lists, "192.0.2.99") == ["opl"]
    with pytest.raises(ReviewError, match="already denied"):
        approve(store, lists, request.id, note="", actor="cli:t", now=NOW)


def test_failed_list_write_is_audited(store: RemovalStore, lists: ListStore) -> None:
    request = submit(store, lists, "192.0.2.99").request
    assert request is not None
    lists.configs[0].path.unlink()  # the file vanished under us: the rewrite fails
    lists.configs[0].path.mkdir()
    with pytest.raises(Exception, match="list"):
        approve(store, lists, request.id, note="", actor="cli:t", now=NOW)
    assert store.require(request.id).status == "pending"
    assert store.audit(request.id)[-1].action == "approve-failed"
