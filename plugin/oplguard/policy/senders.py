"""Allowed and Blocked Senders: which entry, if any, covers an IP in a given scope.

Pure.  Expired entries never match; the caller passes the time.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from datetime import datetime

from oplguard.config.model import SenderEntry
from oplguard.ipaddr import parse_span

IPRange = tuple[int, int, int]  # (version, first, last)


def network_range(text: str) -> IPRange:
    """``a``, ``a/len`` or ``a-b`` (canonical text) -> (version, first, last)."""
    return parse_span(text, strict=False)


def address_value(ip: str) -> tuple[int, int]:
    """(version, integer value) of an IP, as ``ipaddress.ip_address`` reads it.

    Dotted quads, the common case on the scan path, skip the ``ipaddress``
    object; anything else (IPv6, leading zeros) goes through it.  Kept here
    rather than ``ipaddr.address_value``: this module is compiled (mypyc) and
    sits on the per-message path, and it is handed canonical text from the
    relay chain (mail/addresses.py already unmapped ``::ffff:a.b.c.d``), so a
    raw mapped text stays an IPv6 value here (tests/unit/policy/test_senders.py).

    Raises:
        ValueError: ``ip`` is not an IP address.
    """
    if "." in ip and ":" not in ip and not ip.startswith("0") and ".0" not in ip:
        try:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
        except OSError:
            pass
    address = ipaddress.ip_address(ip)
    return address.version, int(address)


@dataclass(frozen=True, slots=True)
class SenderSet:
    """Sender entries (allowed or blocked) with their address ranges.

    The most specific (smallest) matching entry wins, the first of equals in
    config order.  Single-address entries, the usual case, are found in a
    dict; network and range entries (few, in practice) are scanned.
    """

    entries: tuple[tuple[IPRange, SenderEntry], ...] = ()
    # Derived from ``entries`` once: (version, value) -> single-address
    # entries in config order, and the entries covering more than one address.
    single: dict[tuple[int, int], tuple[SenderEntry, ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    spans: tuple[tuple[IPRange, SenderEntry], ...] = field(
        default=(), init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        single: dict[tuple[int, int], tuple[SenderEntry, ...]] = {}
        spans = []
        for item in self.entries:
            (version, first, last), entry = item
            if first == last:
                single[version, first] = (*single.get((version, first), ()), entry)
            else:
                spans.append(item)
        object.__setattr__(self, "single", single)
        object.__setattr__(self, "spans", tuple(spans))

    @classmethod
    def build(cls, entries: tuple[SenderEntry, ...]) -> SenderSet:
        return cls(tuple((network_range(entry.network), entry) for entry in entries))

    def match(self, ip: str, scope: str | None, now: datetime) -> SenderEntry | None:
        """The entry of ``scope`` (any scope if None) that covers ``ip`` and
        has not expired."""
        version, value = address_value(ip)
        # A single address is the smallest span there is: the first usable one wins.
        for entry in self.single.get((version, value), ()):
            if scope in (None, entry.scope) and entry.is_active(now):
                return entry
        best: tuple[int, SenderEntry] | None = None
        for (entry_version, first, last), entry in self.spans:
            if (
                scope not in (None, entry.scope)
                or entry_version != version
                or not first <= value <= last
            ):
                continue
            if not entry.is_active(now):
                continue
            if best is None or last - first < best[0]:
                best = (last - first, entry)
        return None if best is None else best[1]
