"""Merging the workers' control replies (control/relay.py); the real relay is in
tests/integration/test_workers.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oplguard.control.relay import Answer, Worker, catch_up, merge, worker_socket

W0, W1 = Worker(0, 100), Worker(1, 101)


def status(open_: int, passed: float, written: int, error: str = "") -> dict[str, Any]:
    return {
        "levels": {"relays": "WARNING"},
        "connections_open": open_,
        "counters": {"oplguard_messages": {"pass": passed}, "oplguard_connections": {"all": 1}},
        "tracking": {
            "written": written,
            "queued": 0,
            "dropped": 0,
            "errors": 1 if error else 0,
            "pruned": 0,
            "last_error": error,
        },
    }


def test_worker_sockets_sit_next_to_the_configured_one() -> None:
    path = Path("/run/oplguard/control.sock")
    assert worker_socket(path, 3) == Path("/run/oplguard/control.sock.worker3")


def test_status_sums_connections_counters_and_tracking() -> None:
    merged = merge(
        "status",
        [Answer(W0, status(2, 10, 7)), Answer(W1, status(3, 5, 4, "disk full"))],
    )
    assert merged["ok"] is True
    assert merged["connections_open"] == 5
    assert merged["counters"]["oplguard_messages"] == {"pass": 15.0}
    assert merged["counters"]["oplguard_connections"] == {"all": 2.0}
    assert merged["tracking"]["written"] == 11
    assert merged["tracking"]["errors"] == 1
    assert merged["tracking"]["last_error"] == "disk full"
    assert [(w["slot"], w["pid"], w["connections_open"]) for w in merged["workers"]] == [
        (0, 100, 2),
        (1, 101, 3),
    ]


def test_status_names_a_worker_that_did_not_answer_and_counts_the_others() -> None:
    merged = merge("status", [Answer(W0, status(1, 4, 4)), Answer(W1, None, "timed out")])
    assert merged["ok"] is True
    assert merged["counters"]["oplguard_messages"] == {"pass": 4.0}
    assert merged["workers"][1] == {"slot": 1, "pid": 101, "error": "timed out"}


def test_a_change_that_one_worker_missed_is_an_error_naming_it() -> None:
    done = {"levels": {"relays": "DEBUG"}, "previous": {"relays": "WARNING"}}
    merged = merge("set-level", [Answer(W0, done), Answer(W1, None, "cannot reach")])
    assert merged == {
        "ok": False,
        "error": "applied on worker(s) 0 only; worker 1 (pid 101): cannot reach",
    }


def test_a_change_every_worker_took_is_the_first_reply_plus_the_workers() -> None:
    done = {"levels": {"relays": "DEBUG"}, "previous": {"relays": "WARNING"}}
    merged = merge("set-level", [Answer(W0, done), Answer(W1, done)])
    assert merged["ok"] is True
    assert merged["previous"] == {"relays": "WARNING"}
    assert [w["levels"] for w in merged["workers"]] == [{"relays": "DEBUG"}] * 2


def test_when_no_worker_answers_the_first_reason_is_the_error() -> None:
    merged = merge("levels", [Answer(W0, None, "unknown level 'loud'"), Answer(W1, None, "x")])
    assert merged == {"ok": False, "error": "unknown level 'loud'"}
    assert merge("levels", []) == {"ok": False, "error": "no worker is running"}


NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


def test_catch_up_copies_what_differs_timed_levels_with_the_time_left_and_traces() -> None:
    live = {
        "levels": {"relays": "DEBUG", "policy": "INFO", "web": "WARNING"},
        "reverts": [{"component": "relays", "level": "WARNING", "at": "2026-12-03T12:09:59.5Z"}],
        "traces": [
            {"ip": "192.0.2.99", "sender": "", "until": "2026-12-03T12:30:00Z"},
            {"ip": "", "sender": "@example.org", "until": "2026-12-03T11:59:00Z"},  # over
        ],
    }
    fresh = {"relays": "WARNING", "policy": "WARNING", "web": "WARNING"}
    assert catch_up(live, fresh, NOW) == [
        {"cmd": "set-level", "component": "policy", "level": "INFO", "for": ""},
        {"cmd": "set-level", "component": "relays", "level": "DEBUG", "for": "600s"},
        {"cmd": "trace", "ip": "192.0.2.99", "sender": "", "for": "1800s"},
    ]


def test_catch_up_skips_a_revert_that_is_due() -> None:
    live = {
        "levels": {"relays": "DEBUG"},
        "reverts": [{"component": "relays", "level": "WARNING", "at": "2026-12-03T12:00:00Z"}],
    }
    assert catch_up(live, {"relays": "WARNING"}, NOW) == []
    assert catch_up({"levels": {"relays": "WARNING"}}, {"relays": "WARNING"}, NOW) == []


def test_status_tracking_state_is_the_worker_with_the_newest_error() -> None:
    failing = status(1, 1, 2, "cannot connect")
    failing["tracking"].update(state="failing", last_error_at=200.0, failing_since=150.0)
    older = status(1, 1, 3, "disk full")
    older["tracking"].update(state="ok", last_error_at=100.0)
    merged = merge("status", [Answer(W0, older), Answer(W1, failing)])
    tracking = merged["tracking"]
    assert (tracking["state"], tracking["last_error"]) == ("failing", "cannot connect")
    assert (tracking["last_error_at"], tracking["failing_since"]) == (200.0, 150.0)
    assert tracking["written"] == 5
