"""Export local lists for other MTAs and DNS servers, allow-list entries carved out.

Formats: rbldnsd (ip4set + ip6trie datasets), postfix-cidr (a cidr: table),
rspamd (a radix map for multimap), plain (our own list format).  Pure: takes
entries, yields lines (the CLI streams them to the file, so a 10M-entry list
is never held as one text).

Allow-list holes are merged into sorted integer intervals per family; each
entry finds the holes that touch it by bisection, so an entry no hole touches
(nearly all) passes through unchanged: O(n log h), not O(n * h).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from oplguard.ipaddr import Network, parse_span, span_networks

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
    return span_networks(parse_span(text, strict=False))


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


class Holes:
    """Allow-listed networks as merged, sorted integer intervals per address family."""

    def __init__(self, networks: Iterable[Network]) -> None:
        spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for net in networks:
            spans[net.version].append((int(net.network_address), int(net.broadcast_address)))
        self.starts: dict[int, list[int]] = {}
        self.ends: dict[int, list[int]] = {}
        for version, items in spans.items():
            merged: list[tuple[int, int]] = []
            for first, last in sorted(items):
                if merged and first <= merged[-1][1] + 1:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], last))
                else:
                    merged.append((first, last))
            self.starts[version] = [first for first, _ in merged]
            self.ends[version] = [last for _, last in merged]

    def touching(self, network: Network) -> list[Network]:
        """The (merged) holes that overlap ``network``, as CIDR networks."""
        starts, ends = self.starts[network.version], self.ends[network.version]
        first, last = int(network.network_address), int(network.broadcast_address)
        index = bisect.bisect_right(starts, last) - 1  # the last hole starting within reach
        found: list[Network] = []
        while index >= 0 and ends[index] >= first:
            found.extend(_cidrs(network.version, starts[index], ends[index]))
            index -= 1
        return found


def _cidrs(version: int, first: int, last: int) -> list[Network]:
    return span_networks((version, first, last))


def effective_iter(entries: Iterable[ExportEntry], allowed: Iterable[str]) -> Iterator[ExportEntry]:
    """Entries with allow-listed networks removed (split into CIDRs as needed), lazily."""
    holes = Holes(net for text in allowed for net in networks_of(text))
    for entry in entries:
        touching = holes.touching(entry.network)
        if not touching:
            yield entry
            continue
        for piece in carve(entry.network, touching):
            yield ExportEntry(piece, entry.reason, entry.category, entry.list_name)


def effective(entries: Iterable[ExportEntry], allowed: Iterable[str]) -> list[ExportEntry]:
    """Entries with allow-listed networks removed (split into CIDRs as needed)."""
    return list(effective_iter(entries, allowed))


def _clean(text: str) -> str:
    return " ".join(text.replace(":", " ").split())[:200]


RBLDNSD_HEADERS = {
    "ip4set": ":127.0.0.2:Listed by oplguard, see the lookup page for $",
    "ip6trie": ":127.0.0.2:Listed by oplguard",
}


def rbldnsd_lines(entries: Iterable[ExportEntry]) -> Iterator[tuple[str, str]]:
    """(dataset, line) pairs for the rbldnsd ``ip4set`` and ``ip6trie`` files, headers first."""
    yield from RBLDNSD_HEADERS.items()
    for entry in entries:
        answer = CATEGORY_ANSWERS.get(entry.category, LISTED_ANSWER)
        line = f"{entry.network} :{answer}:{_clean(entry.reason or entry.list_name)}"
        yield ("ip4set" if entry.network.version == 4 else "ip6trie"), line


def to_rbldnsd(entries: Iterable[ExportEntry]) -> dict[str, str]:
    """Two rbldnsd datasets: ``ip4set`` and ``ip6trie`` files (name -> text)."""
    files: dict[str, list[str]] = {name: [] for name in RBLDNSD_HEADERS}
    for name, line in rbldnsd_lines(entries):
        files[name].append(line)
    return {name: "\n".join(lines) + "\n" for name, lines in files.items()}


def postfix_cidr_line(entry: ExportEntry) -> str:
    """A ``cidr:`` table line: ``NETWORK REJECT reason``."""
    return f"{entry.network}\tREJECT {_clean(entry.reason) or 'listed on ' + entry.list_name}"


def rspamd_line(entry: ExportEntry) -> str:
    """A radix map line for rspamd multimap (``type = "ip"``): ``NETWORK reason``."""
    return f"{entry.network} {_clean(entry.reason)}".rstrip()


def plain_line(entry: ExportEntry) -> str:
    """oplguard's own plain list format."""
    return f"{entry.network}  {entry.reason}".rstrip()


LINE_FORMATS: dict[str, Callable[[ExportEntry], str]] = {
    "postfix-cidr": postfix_cidr_line,
    "rspamd": rspamd_line,
    "plain": plain_line,
}
FORMATS = ("rbldnsd", *LINE_FORMATS)


def _join(line: Callable[[ExportEntry], str], entries: Iterable[ExportEntry]) -> str:
    return "".join(line(entry) + "\n" for entry in entries)


def to_postfix_cidr(entries: Iterable[ExportEntry]) -> str:
    return _join(postfix_cidr_line, entries)


def to_rspamd(entries: Iterable[ExportEntry]) -> str:
    return _join(rspamd_line, entries)


def to_plain(entries: Iterable[ExportEntry]) -> str:
    return _join(plain_line, entries)
