"""The scan path's lock-free tallies export what prometheus-client's Counter and Histogram do."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from oplguard.observability.metrics import LOOKUP_BUCKETS_S, Tally, TallyHistogram

VALUES = (0.00005, 0.0001, 0.003, 0.005, 0.7, 4.9, 5.0, 12.0)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_created")
    }


def created(registry: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items())))
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.endswith("_created")
    }


def test_tallies_export_the_samples_of_counter_and_histogram() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    messages = Tally("t_messages", "m", ("action",))
    plain = Tally("t_connections", "c")
    lookups = TallyHistogram("t_seconds", "s", ("list",), LOOKUP_BUCKETS_S)
    for collector in (messages, plain, lookups):
        ours.register(collector)
    counter = Counter("t_messages", "m", ["action"], registry=theirs)
    Counter("t_connections", "c", registry=theirs).inc(3)
    histogram = Histogram("t_seconds", "s", ["list"], buckets=LOOKUP_BUCKETS_S, registry=theirs)
    for action in ("pass", "delete", "pass"):
        messages.inc((action,))
        counter.labels(action).inc()
    for _ in range(3):
        plain.inc()
    for value in VALUES:
        lookups.observe(("opl",), value)
        histogram.labels("opl").observe(value)
    assert samples(ours) == samples(theirs)
    assert created(ours) == created(theirs)


def test_a_tally_without_labels_reads_zero_before_its_first_count() -> None:
    registry = CollectorRegistry()
    registry.register(Tally("t_connections", "c"))
    assert samples(registry) == {("t_connections_total", ()): 0.0}
