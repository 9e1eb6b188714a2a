"""Gauges of the lists' health, read when scraped: what the shipped alert rules watch.

One series per configured list (bounded by the config):

- ``oplguard_list_entries{list}``: entries of a list file as loaded;
- ``oplguard_list_file_mtime_seconds{list}``: the file's modification time as loaded
  (``time() - ...`` is how old the feed is: alert "stale");
- ``oplguard_list_loaded_timestamp_seconds{list}``: when it was loaded;
- ``oplguard_list_load_failed{list}``: 1 while the last reload of that file failed (the
  service keeps serving the last good version: alert "load failing");
- ``oplguard_dnsbl_monitor_only{list}``: 1 while the circuit breaker has switched a DNS list
  to monitor-only (alert "circuit open").

The rules are ``alerts/oplguard.rules.yml``; their tests run ``promtool test rules``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from oplguard.lists.block import ListSnapshot
from oplguard.lists.health import HealthState, ListHealth

# Gauges that are the same in every pre-forked worker: merged with max, not added up
# (observability/merged.py).
SAME_IN_EVERY_WORKER = (
    "oplguard_list_entries",
    "oplguard_list_file_mtime_seconds",
    "oplguard_list_loaded_timestamp_seconds",
    "oplguard_list_load_failed",
    "oplguard_dnsbl_monitor_only",
)


@dataclass(frozen=True)
class ListState:
    """What the gauges are read from: the running service's lists at scrape time."""

    snapshot: ListSnapshot = field(default_factory=ListSnapshot)
    health: Mapping[str, ListHealth] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    file_lists: tuple[str, ...] = ()


def _family(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=["list"])


class ListMetrics(Collector):
    """Reads ``state()`` at each scrape; a service not yet started yields empty families."""

    def __init__(self, state: Callable[[], ListState]) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state()
        entries = _family("oplguard_list_entries", "Entries of each list file as loaded")
        mtime = _family(
            "oplguard_list_file_mtime_seconds", "Modification time of each list file as loaded"
        )
        loaded = _family(
            "oplguard_list_loaded_timestamp_seconds", "When each list file was last loaded"
        )
        failed = _family(
            "oplguard_list_load_failed",
            "1 while the last reload of a list file failed (the last good version is served)",
        )
        for block in state.snapshot.lists:
            name = block.config.name
            entries.add_metric([name], float(len(block.entries)))
            mtime.add_metric([name], block.mtime)
            loaded.add_metric([name], block.loaded_at)
        for name in state.file_lists:
            failed.add_metric([name], 1.0 if name in state.errors else 0.0)
        monitor = _family(
            "oplguard_dnsbl_monitor_only",
            "1 while the circuit breaker holds a DNS list open: monitor-only (wrong answers) "
            "or unreachable (no answers); its hits do not count",
        )
        for name, health in sorted(state.health.items()):
            monitor.add_metric([name], 0.0 if health.state == HealthState.HEALTHY else 1.0)
        yield from (entries, mtime, loaded, failed, monitor)
