"""What the tracking tables say about a time window: verdicts over time, hits, offenders, overrides.

The operations page (``web/ops.py``) reads this.  Every query is bounded so the
page stays cheap on a store of any size: the window is a range of the ``at``
index, read from its newest end and cut at ``MAX_SCAN_ROWS`` messages (the
summary then says from when its numbers start), and every answer is grouped in
SQL, so at most that many rows come back.  A host filter applies inside the cut:
the cut never walks more than ``MAX_SCAN_ROWS`` index entries, whatever the host.
Blocking, SQLite or PostgreSQL; callers on the event loop go through a thread.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from oplguard.config.vocabulary import Action
from oplguard.ipaddr import enclosing_network
from oplguard.storage.db import Database
from oplguard.tracking.store import TrackingStore

# The newest messages one summary reads.  About 0.1 s of SQLite time per query on the 2-core dev
# machine; a busier window is cut and says so.
MAX_SCAN_ROWS = 100_000
# Rows of each "top" table: a page to read, not an export.
TOP_ROWS = 15
# Hosts offered in the host filter; a fleet bigger than this filters by typing the name.
MAX_HOSTS = 100
# (relay result, hop) pairs read for the hit charts: results name list sets and hops are capped at
# MAX_HOP_LABEL below, so this bounds a window full of forged 10,000-hop chains too.
MAX_RESULT_ROWS = 10_000
# Hops deeper than this share one bar, labelled as the Prometheus hop label is (metrics.py).
MAX_HOP_LABEL = 10
# Offending networks: IPv4 /24s and IPv6 /48s, the usual size of one operator's block.
NETWORK_PREFIX = {4: 24, 6: 48}
ACTIONS: tuple[str, ...] = tuple(Action)
# Window name -> (length, bucket) in seconds: 12 to 30 columns each.
WINDOWS: dict[str, tuple[int, int]] = {
    "1h": (3600, 300),
    "6h": (6 * 3600, 900),
    "24h": (86400, 3600),
    "7d": (7 * 86400, 6 * 3600),
    "30d": (30 * 86400, 86400),
}
DEFAULT_WINDOW = "24h"


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)`` in epoch seconds, cut into ``bucket_s`` columns."""

    start: float
    end: float
    bucket_s: int

    @classmethod
    def named(cls, name: str, now: float) -> Window:
        """The window ``name`` (a key of WINDOWS) ending at the end of ``now``'s bucket.

        Raises:
            KeyError: an unknown name.
        """
        length, bucket = WINDOWS[name]
        end = (math.floor(now / bucket) + 1) * bucket
        return cls(end - length, end, bucket)

    @property
    def buckets(self) -> int:
        return math.ceil((self.end - self.start) / self.bucket_s)


@dataclass(frozen=True, slots=True)
class Offender:
    """An offending IP or network: messages it decided, distinct IPs, last seen."""

    name: str
    messages: int
    ips: int
    last_at: float


@dataclass(frozen=True, slots=True)
class Summary:
    """The numbers behind the operations page."""

    window: Window
    host: str
    read_from: float  # == window.start unless the cut applied
    is_cut: bool
    messages: int
    hosts: tuple[tuple[str, int], ...]
    timeline: dict[str, list[int]]  # action -> messages per bucket
    hits_by_list: dict[str, int]
    hits_by_hop: dict[str, int]
    top_ips: tuple[Offender, ...]
    top_networks: tuple[Offender, ...]
    allowed: dict[str, int]  # allow entry network -> relays it exempted
    actions: dict[str, int] = field(default_factory=dict)


def hop_label(hop: int) -> str:
    return str(hop) if hop <= MAX_HOP_LABEL else f"{MAX_HOP_LABEL}+"


def _where(host: str, alias: str = "") -> str:
    """The window range (and host) on the messages table, whose alias is ``alias``."""
    clause = f"{alias}at >= ? AND {alias}at < ?"
    return clause + (f" AND {alias}host = ?" if host else "")


def network_of(ip: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) holding ``ip``; the text itself if it is no IP."""
    return enclosing_network(ip, NETWORK_PREFIX[4], NETWORK_PREFIX[6])


class Summarizer:
    """The bounded summary queries over one tracking database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        TrackingStore(db).create()  # a store nobody has written to yet summarizes as empty

    def summary(self, window: Window, host: str = "") -> Summary:
        """Read ``window`` (only ``host``'s messages when given).

        Raises:
            StoreError: the database cannot be read.
        """
        read_from, is_cut = self._cut(window)
        hosts = self._hosts(_where(""), [read_from, window.end])
        params: list[Any] = [read_from, window.end, *([host] if host else [])]
        timeline = self._timeline(window, _where(host), params)
        actions = {action: sum(counts) for action, counts in timeline.items()}
        by_list, by_hop, allowed = self._relays(_where(host, "m."), params)
        top_ips, top_networks = self._offenders(_where(host), params)
        return Summary(
            window=window,
            host=host,
            read_from=read_from,
            is_cut=is_cut,
            messages=sum(actions.values()),
            hosts=hosts,
            timeline=timeline,
            hits_by_list=by_list,
            hits_by_hop=by_hop,
            top_ips=top_ips,
            top_networks=top_networks,
            allowed=allowed,
            actions=actions,
        )

    def _cut(self, window: Window) -> tuple[float, bool]:
        """Where reading starts: the window's start, or the MAX_SCAN_ROWS-th newest message."""
        rows = self.db.query(
            "SELECT MIN(at), COUNT(*) FROM (SELECT at FROM oplguard_messages "
            "WHERE at >= ? AND at < ? ORDER BY at DESC LIMIT ?) newest",
            [window.start, window.end, MAX_SCAN_ROWS],
        )
        oldest, count = rows[0]
        if int(count) < MAX_SCAN_ROWS:
            return window.start, False
        return float(oldest), True

    def _hosts(self, where: str, params: Sequence[Any]) -> tuple[tuple[str, int], ...]:
        rows = self.db.query(
            f"SELECT host, COUNT(*) FROM oplguard_messages WHERE {where} "
            "GROUP BY host ORDER BY host LIMIT ?",
            [*params, MAX_HOSTS],
        )
        return tuple((str(name), int(count)) for name, count in rows)

    def _timeline(self, window: Window, where: str, params: Sequence[Any]) -> dict[str, list[int]]:
        # Truncation to a whole bucket: CAST truncates on SQLite, but rounds on PostgreSQL.
        bucket = (
            "CAST(FLOOR((at - ?) / ?) AS INTEGER)"
            if self.db.dialect == "postgresql"
            else "CAST((at - ?) / ? AS INTEGER)"
        )
        rows = self.db.query(
            f"SELECT {bucket} AS b, action, COUNT(*) FROM oplguard_messages WHERE {where} "
            "GROUP BY b, action",
            [window.start, window.bucket_s, *params],
        )
        timeline = {action: [0] * window.buckets for action in ACTIONS}
        for index, action, count in rows:
            series = timeline.setdefault(str(action), [0] * window.buckets)
            if 0 <= int(index) < window.buckets:
                series[int(index)] += int(count)
        return timeline

    def _relays(
        self, where: str, params: Sequence[Any]
    ) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """Hits by list and by hop, and allow entries used, from the relay results."""
        rows = self.db.query(
            "SELECT i.result, i.hop, COUNT(*) FROM oplguard_message_ips i "
            "JOIN oplguard_messages m ON m.record_id = i.record_id "
            f"WHERE {where} AND (i.result LIKE ? OR i.result LIKE ?) "
            "GROUP BY i.result, i.hop LIMIT ?",
            [*params, "listed:%", "allowed:%", MAX_RESULT_ROWS],
        )
        by_list: Counter[str] = Counter()
        by_hop: Counter[str] = Counter()
        allowed: Counter[str] = Counter()
        for result, hop, count in rows:
            for part in str(result).split(";"):
                kind, _, names = part.partition(":")
                if kind == "allowed":
                    allowed[names] += int(count)
                elif kind == "listed":
                    for name in filter(None, names.split(",")):
                        by_list[name] += int(count)
                        by_hop[hop_label(int(hop))] += int(count)
        hops = sorted(by_hop.items(), key=lambda item: int(item[0].rstrip("+")))
        return dict(by_list.most_common()), dict(hops), dict(allowed.most_common())

    def _offenders(
        self, where: str, params: Sequence[Any]
    ) -> tuple[tuple[Offender, ...], tuple[Offender, ...]]:
        """The IPs that decided the most verdicts, and their /24 and /48 networks."""
        rows = self.db.query(
            "SELECT offending_ip, COUNT(*), MAX(at) FROM oplguard_messages "
            f"WHERE {where} AND offending_ip <> '' GROUP BY offending_ip",
            params,
        )
        ips = [Offender(str(ip), int(count), 1, float(last)) for ip, count, last in rows]
        networks: dict[str, Offender] = {}
        for item in ips:
            name = network_of(item.name)
            seen = networks.get(name, Offender(name, 0, 0, 0.0))
            networks[name] = Offender(
                name,
                seen.messages + item.messages,
                seen.ips + 1,
                max(seen.last_at, item.last_at),
            )
        return _top(ips), _top(networks.values())


def _top(items: Any) -> tuple[Offender, ...]:
    ranked = sorted(items, key=lambda item: (-item.messages, -item.last_at, item.name))
    return tuple(ranked[:TOP_ROWS])
