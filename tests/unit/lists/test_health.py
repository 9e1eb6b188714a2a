"""The circuit breaker: probes and hit-rate jumps switch a list to monitor-only and back."""

from __future__ import annotations

from oplguard.lists.health import (
    FAILED_PROBES_TO_TRIP,
    HEALTHY,
    HIT_WINDOW,
    MIN_ANSWERS,
    MONITOR_ONLY,
    ListHealth,
)


def test_normal_hit_rate_stays_healthy() -> None:
    health = ListHealth("opl")
    for n in range(HIT_WINDOW * 3):
        health.record(n % 20 == 0)
    assert health.state == HEALTHY
    assert 0.03 < health.baseline < 0.08


def test_list_that_lists_the_world_trips_and_recovers() -> None:
    health = ListHealth("opl")
    for n in range(HIT_WINDOW):
        health.record(n % 20 == 0)
    for _ in range(HIT_WINDOW):
        health.record(True)
    assert health.state == MONITOR_ONLY
    assert health.reason.startswith("hit rate")
    for _ in range(HIT_WINDOW):
        health.record(False)
    assert health.state == HEALTHY


def test_few_answers_never_trip() -> None:
    health = ListHealth("opl")
    for _ in range(MIN_ANSWERS - 1):
        health.record(True)
    assert health.state == HEALTHY


def test_failed_probes_trip_after_the_threshold_and_good_probe_recovers() -> None:
    health = ListHealth("opl")
    for _ in range(FAILED_PROBES_TO_TRIP - 1):
        health.probe(listed_ok=False, clean_ok=True)
    assert health.state == HEALTHY
    health.probe(listed_ok=False, clean_ok=True)
    assert health.state == MONITOR_ONLY
    assert "127.0.0.2 not listed" in health.reason
    health.probe(listed_ok=True, clean_ok=True)
    assert health.state == HEALTHY


def test_status_dict_has_counts() -> None:
    health = ListHealth("opl")
    health.record(True)
    health.record_error()
    status = health.as_dict()
    assert (status["answers"], status["errors"], status["state"]) == (1, 1, HEALTHY)
