"""Prometheus metrics of one running service, on its own registry.

One registry per service (not the global one) so that several services in
one process, as in the tests, never clash.  Scrapes are served by
prometheus-client's own HTTP thread, off the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from oplguard.observability.levels import LevelControl
from oplguard.policy.scanner import Scan

# Hops beyond this share one label value, so a long forged chain cannot add series.
MAX_HOP_LABEL = 10
# DNS lists answer in ms; the deadline (5 s default) bounds the top.
LOOKUP_BUCKETS_S = (0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

log = logging.getLogger("oplguard.server")


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


class Metrics:
    """The service's counters and histograms, updated from the scan hook and the server."""

    def __init__(self, levels: LevelControl, gauges: dict[str, Callable[[], float]]) -> None:
        r = self.registry = CollectorRegistry()
        self.messages = Counter(
            "oplguard_messages", "Scored messages by action", ["action"], registry=r
        )
        self.hits = Counter(
            "oplguard_list_hits", "List hits by list and hop depth", ["list", "hop"], registry=r
        )
        self.allow_overrides = Counter(
            "oplguard_allow_overrides",
            "Listed IPs exempted by an allow entry",
            ["scope"],
            registry=r,
        )
        self.lookup_seconds = Histogram(
            "oplguard_list_lookup_seconds",
            "Time one list took to answer for one IP (local: all list files)",
            ["list"],
            buckets=LOOKUP_BUCKETS_S,
            registry=r,
        )
        self.lookup_errors = Counter(
            "oplguard_list_lookup_errors",
            "List lookups that failed or timed out",
            ["list"],
            registry=r,
        )
        self.reloads = Counter("oplguard_reloads", "Reloads by result", ["result"], registry=r)
        self.connections = Counter("oplguard_connections", "Accepted spamd connections", registry=r)
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
        self.children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, kept: prometheus-client looks labels up under a lock on
        every call, and a message makes several.  Label values come from the config (actions,
        list names, scopes, hop labels), so the cache is bounded by it."""
        key = (id(metric), values)
        found = self.children.get(key)
        if found is None:
            found = self.children[key] = metric.labels(*values)
        return found

    def observe(self, scan: Scan) -> None:
        """Count one scored message."""
        verdict = scan.verdict
        self.child(self.messages, verdict.action).inc()
        for hit in verdict.hits:
            self.child(self.hits, hit.list_name, hop_label(hit.hop)).inc()
        for entry in verdict.allowed:
            self.child(self.allow_overrides, entry.scope).inc()
        for timing in scan.lookups:
            self.child(self.lookup_seconds, timing.list_name).observe(timing.elapsed_s)
        for failure in verdict.failures:
            self.child(self.lookup_errors, failure.list_name).inc()

    def summary(self) -> dict[str, dict[str, float]]:
        """Counter totals by label, for ``oplguard status``."""
        out: dict[str, dict[str, float]] = {}
        counters = (self.messages, self.reloads, self.connections, self.tracking)
        for counter in (*counters, self.tracking_errors, self.control_errors):
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
