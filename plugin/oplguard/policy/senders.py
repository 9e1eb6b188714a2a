"""Allowed and Blocked Senders: which entry, if any, covers an IP in a given scope.

Pure.  Expired entries never match; the caller passes the time.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from oplguard.config import SenderEntry

IPRange = tuple[int, int, int]  # (version, first, last)


def network_range(text: str) -> IPRange:
    """``a``, ``a/len`` or ``a-b`` (canonical text) -> (version, first, last)."""
    if "-" in text:
        first_text, _, last_text = text.partition("-")
        first = ipaddress.ip_address(first_text)
        return (first.version, int(first), int(ipaddress.ip_address(last_text)))
    network = ipaddress.ip_network(text, strict=False)
    return (network.version, int(network.network_address), int(network.broadcast_address))


@dataclass(frozen=True, slots=True)
class SenderSet:
    """Sender entries (allowed or blocked) with their address ranges.

    Sender lists are short (tens to a few thousand entries), so a scan per
    lookup is cheap next to the list lookups it saves; the most specific
    (smallest) matching entry wins.
    """

    entries: tuple[tuple[IPRange, SenderEntry], ...] = ()

    @classmethod
    def build(cls, entries: tuple[SenderEntry, ...]) -> SenderSet:
        return cls(tuple((network_range(entry.network), entry) for entry in entries))

    def match(self, ip: str, scope: str | None, now: datetime) -> SenderEntry | None:
        """The entry of ``scope`` (any scope if None) that covers ``ip`` and
        has not expired."""
        address = ipaddress.ip_address(ip)
        value, version = int(address), address.version
        best: tuple[int, SenderEntry] | None = None
        for (entry_version, first, last), entry in self.entries:
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
