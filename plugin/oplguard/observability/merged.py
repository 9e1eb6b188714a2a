"""The Prometheus metrics of pre-forked workers, merged into one scrape.

With ``[server] workers = N`` the parent binds ``[metrics] listen`` and, at
each scrape, asks every worker for its exposition text over its control
socket (control/relay.py, command ``metrics``).  Samples with the same name
and labels are added up — counters, histogram buckets, open connections,
the tracking queue — so the figures are the service's, as with one process.
Two gauges are not sums: ``oplguard_log_level`` is the most verbose level any
worker runs at (``oplguard status`` names a worker that differs) and
``oplguard_uptime_seconds`` the longest.  A counter's ``_created`` is the earliest.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from oplguard.observability.listmetrics import SAME_IN_EVERY_WORKER

# The parent answers scrapes in its own loop, one at a time: a client that
# sends nothing must not hold it longer than this.
SCRAPE_IO_TIMEOUT_S = 5.0

Combine = Callable[[float, float], float]
_SAMPLE_RULES: dict[str, Combine] = {"oplguard_log_level": min, "oplguard_uptime_seconds": max}
_SAMPLE_RULES.update(dict.fromkeys(SAME_IN_EVERY_WORKER, max))


def _rule(sample_name: str) -> Combine:
    if sample_name.endswith("_created"):
        return min
    return _SAMPLE_RULES.get(sample_name, lambda a, b: a + b)


def merge_texts(texts: list[str]) -> list[Metric]:
    """One family per name, in first-seen order, with every worker's samples combined."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name not in families:
                families[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
                values[family.name] = {}
            merged = values[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                old = merged.get(key)
                merged[key] = sample.value if old is None else _rule(sample.name)(old, sample.value)
    for name, family in families.items():
        family.samples = [
            Sample(sample_name, dict(labels), value)
            for (sample_name, labels), value in values[name].items()
        ]
    return list(families.values())


class WorkerMetrics(Collector):
    """A collector whose samples are the workers', fetched when scraped."""

    def __init__(self, fetch: Callable[[], list[str]]) -> None:
        self.fetch = fetch

    def collect(self) -> Iterator[Metric]:
        yield from merge_texts(self.fetch())


class _Handler(WSGIRequestHandler):
    timeout = SCRAPE_IO_TIMEOUT_S

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not worth a log line each."""


class _Server(WSGIServer):
    address_family = socket.AF_INET


class _Server6(WSGIServer):
    address_family = socket.AF_INET6


def serve_merged(host: str, port: int, fetch: Callable[[], list[str]]) -> WSGIServer:
    """A scrape endpoint on ``host:port`` for the parent's loop to drive (``handle_request``).

    Raises:
        OSError: the address cannot be bound.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerMetrics(fetch))
    server_class = _Server6 if ":" in host else _Server
    server = make_server(
        host, port, make_wsgi_app(registry), server_class=server_class, handler_class=_Handler
    )
    server.timeout = 0  # handle_request() is called only when the socket is readable
    return server
