"""The circuit breaker: probes and hit-rate jumps switch a list to monitor-only and back."""

from __future__ import annotations

from oplguard.lists.health import (
    FAILED_PROBES_TO_TRIP,
    FAST_PROBE_INTERVAL_S,
    HIT_WINDOW,
    MIN_ANSWERS,
    UNANSWERED_TO_TRIP,
    HealthState,
    ListHealth,
)


def test_normal_hit_rate_stays_healthy() -> None:
    health = ListHealth("opl")
    for n in range(HIT_WINDOW * 3):
        health.record(n % 20 == 0)
    assert health.state == HealthState.HEALTHY
    assert 0.03 < health.baseline < 0.08


def test_list_that_lists_the_world_trips_and_recovers() -> None:
    health = ListHealth("opl")
    for n in range(HIT_WINDOW):
        health.record(n % 20 == 0)
    for _ in range(HIT_WINDOW):
        health.record(True)
    assert health.state == HealthState.MONITOR_ONLY
    assert health.reason.startswith("hit rate")
    for _ in range(HIT_WINDOW):
        health.record(False)
    assert health.state == HealthState.HEALTHY


def test_few_answers_never_trip() -> None:
    health = ListHealth("opl")
    for _ in range(MIN_ANSWERS - 1):
        health.record(True)
    assert health.state == HealthState.HEALTHY


def test_failed_probes_trip_after_the_threshold_and_good_probe_recovers() -> None:
    health = ListHealth("opl")
    for _ in range(FAILED_PROBES_TO_TRIP - 1):
        health.probe(listed_ok=False, clean_ok=True)
    assert health.state == HealthState.HEALTHY
    health.probe(listed_ok=False, clean_ok=True)
    assert health.state == HealthState.MONITOR_ONLY
    assert "127.0.0.2 not listed" in health.reason
    health.probe(listed_ok=True, clean_ok=True)
    assert health.state == HealthState.HEALTHY


def test_status_dict_has_counts() -> None:
    health = ListHealth("opl")
    health.record(True)
    health.record_error()
    status = health.as_dict()
    assert (status["answers"], status["errors"], status["state"]) == (1, 1, HealthState.HEALTHY)


def test_unanswered_probes_are_not_wrong_answers() -> None:
    # Issue 20: probe timeouts counted as wrong answers, and the reason said
    # "127.0.0.2 not listed" although nothing had answered.
    health = ListHealth("opl")
    for _ in range(FAILED_PROBES_TO_TRIP * 3):
        health.probe(listed_ok=False, clean_ok=False, unanswered=True)
    assert (health.state, health.failed_probes) == (HealthState.HEALTHY, 0)


def test_consecutive_unanswered_queries_make_the_list_unreachable_with_the_real_reason() -> None:
    health = ListHealth("opl")
    for _ in range(UNANSWERED_TO_TRIP - 1):
        health.note_unanswered("LifetimeTimeout: 0.3 seconds")
    assert health.state == HealthState.HEALTHY
    health.note_unanswered("LifetimeTimeout: 0.3 seconds")
    assert health.state == HealthState.UNREACHABLE
    assert health.is_unreachable
    assert health.reason == (
        f"no answer to {UNANSWERED_TO_TRIP} queries in a row (last: LifetimeTimeout: 0.3 seconds)"
    )
    assert "not queried, list unreachable since" in health.note_skipped()
    assert health.skipped == 1


def test_an_answer_between_timeouts_resets_the_count() -> None:
    health = ListHealth("opl")
    for _ in range(UNANSWERED_TO_TRIP * 2):
        health.note_unanswered("Timeout")
        health.note_answered()
    assert health.state == HealthState.HEALTHY


def test_unreachable_list_closes_on_the_first_answer() -> None:
    health = ListHealth("opl")
    for _ in range(UNANSWERED_TO_TRIP):
        health.note_unanswered("Timeout")
    health.note_answered()
    assert (health.state, health.reason, health.unanswered) == (HealthState.HEALTHY, "", 0)


def test_suspect_lists_are_probed_every_few_seconds() -> None:
    health = ListHealth("opl")
    assert health.probe_delay(60.0) == 60.0
    health.note_unanswered("Timeout")
    assert health.probe_delay(60.0) == FAST_PROBE_INTERVAL_S
    health.note_answered()
    health.probe(listed_ok=False, clean_ok=True)
    assert health.probe_delay(60.0) == FAST_PROBE_INTERVAL_S
    health.probe(listed_ok=False, clean_ok=True)
    assert health.state == HealthState.MONITOR_ONLY
    assert health.probe_delay(60.0) == FAST_PROBE_INTERVAL_S
    assert health.probe_delay(0.5) == 0.5


def test_a_monitor_only_list_is_monitor_only_again_after_an_outage() -> None:
    health = ListHealth("opl")
    health.probe(listed_ok=False, clean_ok=True)
    health.probe(listed_ok=False, clean_ok=True)
    reason = health.reason
    for _ in range(UNANSWERED_TO_TRIP):
        health.note_unanswered("Timeout")
    assert health.state == HealthState.UNREACHABLE
    health.note_answered()
    assert (health.state, health.reason) == (HealthState.MONITOR_ONLY, reason)
    health.probe(listed_ok=True, clean_ok=True)
    assert health.state == HealthState.HEALTHY
