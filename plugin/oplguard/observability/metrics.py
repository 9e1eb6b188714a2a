"""Prometheus metrics of one running service, on its own registry.

One registry per service (not the global one) so that several services in
one process, as in the tests, never clash.  Scrapes are served by
prometheus-client's own HTTP thread, off the event loop.
"""

from __future__ import annotations

import logging
import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from oplguard.observability.levels import LevelControl
from oplguard.policy.scanner import Scan

# Hops beyond this share one label value, so a long forged chain cannot add series.
MAX_HOP_LABEL = 10
# DNS lists answer in ms; the deadline (5 s default) bounds the top.
LOOKUP_BUCKETS_S = (0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

log = logging.getLogger("oplguard.server")
# How prometheus-client spells a bucket bound ("0.005", "1.0", "+Inf").
_go_float: Callable[[float], str] = floatToGoString


def hop_label(hop: int) -> str:
    return str(hop) if hop <= MAX_HOP_LABEL else f"{MAX_HOP_LABEL}+"


class _Live(Collector):
    """Gauges read when scraped: levels, open connections, tracking queue, uptime."""

    def __init__(self, levels: LevelControl, gauges: dict[str, Callable[[], float]]) -> None:
        self.levels = levels
        self.gauges = gauges
        self.started = time.time()

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "oplguard_log_level",
            "Configured log level of each component (10 debug .. 50 critical)",
            labels=["component"],
        )
        for component, name in self.levels.levels().items():
            family.add_metric([component], float(logging.getLevelNamesMapping()[name]))
        yield family
        yield GaugeMetricFamily(
            "oplguard_uptime_seconds",
            "Seconds since the service started",
            time.time() - self.started,
        )
        for name, read in self.gauges.items():
            yield GaugeMetricFamily(f"oplguard_{name}", name.replace("_", " "), value=read())


class Tally(Collector):
    """A counter for the scan path: one dict update (tens of ns) per ``inc``, no lock.

    prometheus-client's ``Counter`` takes a lock and looks its labels up on every
    update, several times a message.  Only the event loop's thread updates a
    tally; a scrape (another thread) copies the dict in one C call under the GIL,
    and exports the same ``<name>_total`` / ``<name>_created`` samples a Counter would.
    """

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.values: dict[tuple[str, ...], float] = {}
        self.created: dict[tuple[str, ...], float] = {}
        if not labelnames:  # as a Counter without labels: 0 until counted
            self.inc((), 0.0)

    def inc(self, key: tuple[str, ...] = (), amount: float = 1.0) -> None:
        values = self.values
        old = values.get(key)
        if old is None:
            self.created[key] = time.time()
            old = 0.0
        values[key] = old + amount

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        created = self.created
        for key, value in list(self.values.items()):
            family.add_metric(list(key), value, created=created.get(key))
        yield family


class TallyHistogram(Collector):
    """A histogram for the scan path: a bisect and two list updates per ``observe``, no lock."""

    def __init__(
        self, name: str, documentation: str, labelnames: tuple[str, ...], bounds: tuple[float, ...]
    ) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.bounds = bounds
        # Per label values: a count per bucket (the last one +Inf), then the sum.
        self.values: dict[tuple[str, ...], list[float]] = {}
        self.created: dict[tuple[str, ...], float] = {}

    def observe(self, key: tuple[str, ...], value: float) -> None:
        state = self.values.get(key)
        if state is None:
            self.created[key] = time.time()
            state = self.values[key] = [0.0] * (len(self.bounds) + 2)
        state[bisect_left(self.bounds, value)] += 1  # buckets count values <= their bound
        state[-1] += value

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, state in list(self.values.items()):
            counts, running, buckets = list(state), 0.0, []
            for bound, count in zip((*self.bounds, math.inf), counts, strict=False):
                running += count
                buckets.append((_go_float(bound), running))
            family.add_metric(list(key), buckets, sum_value=counts[-1])
            labels = dict(zip(self.labelnames, key, strict=True))
            family.samples.append(Sample(f"{self.name}_created", labels, self.created[key]))
        yield family


class Metrics:
    """The service's counters and histograms, updated from the scan hook and the server."""

    def __init__(self, levels: LevelControl, gauges: dict[str, Callable[[], float]]) -> None:
        r = self.registry = CollectorRegistry()
        self.messages = Tally("oplguard_messages", "Scored messages by action", ("action",))
        self.hits = Tally("oplguard_list_hits", "List hits by list and hop depth", ("list", "hop"))
        self.allow_overrides = Tally(
            "oplguard_allow_overrides", "Listed IPs exempted by an allow entry", ("scope",)
        )
        self.lookup_seconds = TallyHistogram(
            "oplguard_list_lookup_seconds",
            "Time one list took to answer for one IP (local: all list files)",
            ("list",),
            LOOKUP_BUCKETS_S,
        )
        self.lookup_errors = Tally(
            "oplguard_list_lookup_errors", "List lookups that failed or timed out", ("list",)
        )
        self.connections = Tally("oplguard_connections", "Accepted spamd connections")
        for tally in (self.messages, self.hits, self.allow_overrides, self.lookup_errors):
            r.register(tally)
        r.register(self.lookup_seconds)
        r.register(self.connections)
        self.reloads = Counter("oplguard_reloads", "Reloads by result", ["result"], registry=r)
        self.tracking = Counter(
            "oplguard_tracking_records",
            "Tracking records by outcome (written, dropped)",
            ["outcome"],
            registry=r,
        )
        self.tracking_errors = Counter(
            "oplguard_tracking_errors", "Tracking database errors by kind", ["kind"], registry=r
        )
        self.control_errors = Counter(
            "oplguard_control_errors", "Refused or bad control socket requests", registry=r
        )
        r.register(_Live(levels, gauges))
        self.http: WSGIServer | None = None

    def observe(self, scan: Scan) -> None:
        """Count one scored message: a few dict updates."""
        verdict = scan.verdict
        self.messages.inc((verdict.action,))
        for hit in verdict.hits:
            self.hits.inc((hit.list_name, hop_label(hit.hop)))
        for entry in verdict.allowed:
            self.allow_overrides.inc((entry.scope,))
        for timing in scan.lookups:
            self.lookup_seconds.observe((timing.list_name,), timing.elapsed_s)
        for failure in verdict.failures:
            self.lookup_errors.inc((failure.list_name,))

    def summary(self) -> dict[str, dict[str, float]]:
        """Counter totals by label, for ``oplguard status``."""
        out: dict[str, dict[str, float]] = {}
        counters: tuple[Collector, ...] = (self.messages, self.reloads, self.connections)
        for counter in (*counters, self.tracking, self.tracking_errors, self.control_errors):
            for metric in counter.collect():
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        label = ",".join(sample.labels.values()) or "all"
                        out.setdefault(metric.name, {})[label] = sample.value
        return out

    def serve(self, host: str, port: int) -> tuple[str, int]:
        """Start the scrape endpoint; returns the bound address.

        Raises:
            OSError: the address cannot be bound.
        """
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self.http = server
        bound = server.server_address
        return str(bound[0]), int(bound[1])

    def close(self) -> None:
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
            self.http = None
