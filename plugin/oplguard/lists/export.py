"""Export local lists for other MTAs and DNS servers, allow-list entries carved out.

Formats: rbldnsd (ip4set + ip6trie datasets), postfix-cidr (a cidr: table),
rspamd (a radix map for multimap), plain (our own list format).  Pure: takes
entries, returns text.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 5782 §2.3: answer 127.0.0.2 for a listed address.
LISTED_ANSWER = "127.0.0.2"
CATEGORY_ANSWERS = {
    "open-proxy": "127.0.0.2",
    "zombie": "127.0.0.3",
    "spam-source": "127.0.0.4",
    "blocked": "127.0.0.5",
}


@dataclass(frozen=True, slots=True)
class ExportEntry:
    """One listed network with its reason and category."""

    network: Network
    reason: str
    category: str
    list_name: str


def networks_of(text: str) -> list[Network]:
    """CIDR networks covering ``a``, ``a/len`` or ``a-b`` (canonical text)."""
    if "-" in text:
        first, _, last = text.partition("-")
        start, end = ipaddress.ip_address(first), ipaddress.ip_address(last)
        return list(ipaddress.summarize_address_range(start, end))
    return [ipaddress.ip_network(text, strict=False)]


def carve(network: Network, holes: list[Network]) -> list[Network]:
    """``network`` minus every hole that overlaps it."""
    pieces = [network]
    for hole in holes:
        if hole.version != network.version:
            continue
        next_pieces: list[Network] = []
        for piece in pieces:
            if not piece.overlaps(hole):
                next_pieces.append(piece)
            elif not hole.supernet_of(piece):  # type: ignore[arg-type]
                next_pieces.extend(piece.address_exclude(hole))  # type: ignore[arg-type]
        pieces = next_pieces
    return sorted(pieces, key=lambda n: (n.version, n.network_address, n.prefixlen))


def effective(entries: Iterable[ExportEntry], allowed: Iterable[str]) -> list[ExportEntry]:
    """Entries with allow-listed networks removed (split into CIDRs as needed)."""
    holes = [net for text in allowed for net in networks_of(text)]
    result = []
    for entry in entries:
        for piece in carve(entry.network, holes):
            result.append(ExportEntry(piece, entry.reason, entry.category, entry.list_name))
    return result


def _clean(text: str) -> str:
    return " ".join(text.replace(":", " ").split())[:200]


def to_rbldnsd(entries: list[ExportEntry]) -> dict[str, str]:
    """Two rbldnsd datasets: ``ip4set`` and ``ip6trie`` files (name -> text)."""
    v4 = [":127.0.0.2:Listed by oplguard, see the lookup page for $"]
    v6 = [":127.0.0.2:Listed by oplguard"]
    for entry in entries:
        answer = CATEGORY_ANSWERS.get(entry.category, LISTED_ANSWER)
        line = f"{entry.network} :{answer}:{_clean(entry.reason or entry.list_name)}"
        (v4 if entry.network.version == 4 else v6).append(line)
    return {"ip4set": "\n".join(v4) + "\n", "ip6trie": "\n".join(v6) + "\n"}


def to_postfix_cidr(entries: list[ExportEntry]) -> str:
    """A ``cidr:`` table: ``NETWORK REJECT reason``."""
    lines = [
        f"{e.network}\tREJECT {_clean(e.reason) or 'listed on ' + e.list_name}" for e in entries
    ]
    return "\n".join(lines) + "\n"


def to_rspamd(entries: list[ExportEntry]) -> str:
    """A radix map for rspamd multimap (``type = "ip"``): ``NETWORK reason``."""
    return "\n".join(f"{e.network} {_clean(e.reason)}".rstrip() for e in entries) + "\n"


def to_plain(entries: list[ExportEntry]) -> str:
    """oplguard's own plain list format."""
    return "\n".join(f"{e.network}  {e.reason}".rstrip() for e in entries) + "\n"


SINGLE_FILE: dict[str, Callable[[list[ExportEntry]], str]] = {
    "postfix-cidr": to_postfix_cidr,
    "rspamd": to_rspamd,
    "plain": to_plain,
}
FORMATS = ("rbldnsd", *SINGLE_FILE)
