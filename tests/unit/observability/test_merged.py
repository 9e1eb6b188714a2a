"""Merging the workers' Prometheus samples (observability/merged.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from oplguard.observability.merged import WorkerMetrics, merge_texts


def worker(passed: int, seconds: list[float], level: int, uptime: float) -> str:
    registry = CollectorRegistry()
    messages = Counter("oplguard_messages", "m", ["action"], registry=registry)
    messages.labels("pass").inc(passed)
    lookups = Histogram("oplguard_lookup_seconds", "l", buckets=(0.01, 1.0), registry=registry)
    for value in seconds:
        lookups.observe(value)
    Gauge("oplguard_connections_open", "c", registry=registry).set(2)
    Gauge("oplguard_log_level", "lv", ["component"], registry=registry).labels("relays").set(level)
    Gauge("oplguard_uptime_seconds", "u", registry=registry).set(uptime)
    return generate_latest(registry).decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_counters_histograms_and_open_connections_are_summed() -> None:
    texts = [worker(3, [0.005, 0.5], 30, 10.0), worker(4, [2.0], 10, 99.0)]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerMetrics(lambda: texts))  # as the parent's scrape endpoint does
    got = samples(generate_latest(registry).decode())
    assert got[("oplguard_messages_total", (("action", "pass"),))] == 7
    assert got[("oplguard_lookup_seconds_count", ())] == 3
    assert got[("oplguard_lookup_seconds_bucket", (("le", "0.01"),))] == 1
    assert got[("oplguard_lookup_seconds_bucket", (("le", "1.0"),))] == 2
    assert got[("oplguard_lookup_seconds_bucket", (("le", "+Inf"),))] == 3
    assert got[("oplguard_lookup_seconds_sum", ())] == 2.505
    assert got[("oplguard_connections_open", ())] == 4


def test_log_level_is_the_most_verbose_and_uptime_the_longest() -> None:
    merged = merge_texts([worker(1, [], 30, 10.0), worker(1, [], 10, 99.0)])
    by_name = {s.name: s.value for family in merged for s in family.samples}
    assert by_name["oplguard_log_level"] == 10
    assert by_name["oplguard_uptime_seconds"] == 99.0


def test_one_worker_is_its_own_figures() -> None:
    text = worker(5, [0.5], 30, 1.0)
    merged = merge_texts([text])
    assert {(s.name, s.value) for f in merged for s in f.samples} == {
        (s.name, s.value) for f in text_string_to_metric_families(text) for s in f.samples
    }
    assert merge_texts([]) == []


def test_list_gauges_are_the_same_in_every_worker_not_added_up() -> None:
    """Each worker loads the same lists: 2 workers with 40 entries serve 40, not 80."""
    from oplguard.lists.health import HealthState, ListHealth
    from oplguard.observability.listmetrics import ListMetrics, ListState

    registry = CollectorRegistry()
    dead = ListHealth("opl-dns")
    dead.trip(HealthState.UNREACHABLE, "no answer to 3 queries in a row")
    state = ListState(health={"opl-dns": dead}, errors={"opl": "bad"}, file_lists=("opl",))
    registry.register(ListMetrics(lambda: state))
    text = generate_latest(registry).decode()
    got = samples(generate_latest(_merged([text, text])).decode())
    assert got[("oplguard_dnsbl_monitor_only", (("list", "opl-dns"),))] == 1
    assert got[("oplguard_list_load_failed", (("list", "opl"),))] == 1


def _merged(texts: list[str]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerMetrics(lambda: texts))
    return registry
