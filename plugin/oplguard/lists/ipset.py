"""NetworkSet: which listed network covers an IP, the most specific entry first.

Also the address syntax lists are written in (ipaddress forms, rbldnsd's short
forms).  Immutable once built: entries are flattened into sorted, disjoint
intervals (start, end, payload arrays) found with ``bisect`` in O(log n).  Pure.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from oplguard.ipaddr import (
    Network,
    Span,
    address_value,
    parse_span,
    quad_value,
    span_networks,
    span_text,
)
from oplguard.lists.flatten import HOLE, flatten, flatten128, split128, view

# Payload of an exclusion entry (rbldnsd "!"): it carves a hole, never matches.
EXCLUDED = -1
V4_BITS, V6_BITS = 32, 128
_LOW64 = (1 << 64) - 1
# Payloads are list indexes kept unsigned 32-bit (the top value marks a hole):
# 4 billion entries per list is far beyond any published OPL, and 4 bytes an
# interval keeps 10M entries small.
MAX_PAYLOAD = HOLE - 1
# IPv4 lookups bisect only the intervals starting in the address's /16.
BUCKET_BITS = 16
BUCKETS = 1 << BUCKET_BITS

Columns4 = tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]
Columns6 = tuple[
    npt.NDArray[np.uint64],
    npt.NDArray[np.uint64],
    npt.NDArray[np.uint64],
    npt.NDArray[np.uint64],
    npt.NDArray[Any],
]


class Interval(NamedTuple):
    """One flattened piece of a NetworkSet: ``first..last`` answers ``payload``."""

    version: int
    first: int
    last: int
    payload: int

    def networks(self) -> list[Network]:
        """The CIDR networks covering exactly this interval (for export)."""
        return span_networks((self.version, self.first, self.last))


def octets(text: str) -> tuple[int, int]:
    """An rbldnsd IPv4 prefix ``a``, ``a.b``, ``a.b.c`` or ``a.b.c.d`` -> (value, bits)."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not an IPv4 address or prefix")
    if any(len(p) > 1 and p.startswith("0") for p in parts):
        fixed = ".".join(p.lstrip("0") or "0" for p in parts)
        raise ValueError(f"leading zeros in {text!r} are ambiguous (octal?); write {fixed}")
    if any(int(p) > 255 for p in parts):
        raise ValueError(f"{text!r}: an IPv4 octet is 0..255")
    value = 0
    for part in parts:
        value = value << 8 | int(part)
    return value << 8 * (4 - len(parts)), 8 * len(parts)


def _host_mask(bits: int) -> int:
    return (1 << (32 - bits)) - 1


def ip4set_span(text: str) -> Span:
    """rbldnsd ip4set ranges: ``1.2.3`` (= /24), ``1.2.3.4/24``, ``1.2.3.4-10``, ``a-b``.

    Raises:
        ValueError: malformed, host bits set (as rbldnsd without -a), or IPv6.
    """
    value = quad_value(text)
    if value is not None:
        return 4, value, value
    if ":" in text:
        raise ValueError(f"ip4set lists IPv4 only; put {text} in an ip6tset or plain list")
    if "-" in text:
        first_text, _, last_text = text.partition("-")
        first, bits = octets(first_text)
        last, last_bits = octets(last_text)
        if last_bits == 8 and bits > 8:  # 1.2.3.4-10: a new last octet
            last = (last >> (bits - 8)) | (first & ~((1 << (40 - bits)) - 1) & 0xFFFFFFFF)
            last_bits = bits
        last |= _host_mask(last_bits)
        if first > last:
            raise ValueError(f"range {text!r} goes down; write the lower address first")
        return 4, first, last
    prefix, slash, bits_text = text.partition("/")
    first, bits = octets(prefix)
    if slash:
        if not (bits_text.isascii() and bits_text.isdigit()) or int(bits_text) > 32:
            raise ValueError(f"bad prefix length in {text!r}; write 0 to 32 after the /")
        bits = int(bits_text)
        if first & _host_mask(bits):
            return parse_span(f"{span_text((4, first, first))}/{bits}")  # raises with the fix
    elif bits == 8:
        raise ValueError(f"a bare number {text!r} is ambiguous; write {text}.0.0.0/8")
    return 4, first, first | _host_mask(bits)


def ip6tset_span(text: str, is_exclusion: bool) -> Span:
    """An ip6tset /64 (``2001:db8:1:2`` or ``2001:db8:1:2::/64``); a /128 exclusion.

    Raises:
        ValueError: malformed, IPv4, or another prefix length (rbldnsd skips those).
    """
    if ":" not in text:
        raise ValueError(f"ip6tset lists IPv6 only; put {text} in an ip4set or plain list")
    if "-" in text:
        raise ValueError("ip6tset has no ranges; write one /64 a line, or use format plain")
    if "/" not in text and "::" not in text and text.count(":") < 7:
        text = f"{text}::/{16 * (text.count(':') + 1)}"  # rbldnsd's four hex words = /64
    try:
        version, first, last = parse_span(text)
    except ValueError as err:
        if "write" in str(err):
            raise
        raise ValueError(f"{err}; write 2001:db8:1:2 (a /64) or !2001:db8:1:2::7") from None
    if version != 6:
        raise ValueError(f"ip6tset lists IPv6 only; put {text} in an ip4set or plain list")
    bits, want = 128 - (last - first).bit_length(), 128 if is_exclusion else 64
    if bits != want:
        kind = "an exclusion is one address (/128)" if is_exclusion else "entries are /64"
        example = span_text((6, first, first | ((1 << (128 - want)) - 1)))
        raise ValueError(
            f"{text} is a /{bits} but in ip6tset {kind}; write {'!' * is_exclusion}{example}"
            " or use format plain for other prefix lengths"
        )
    return version, first, last


def _empty(code: Literal["I", "Q"]) -> memoryview:
    return view(np.zeros(0, dtype=np.uint64), code)


@dataclass(frozen=True, slots=True)
class _Table4:
    """IPv4 intervals, 12 bytes each; ``buckets`` narrows a bisect to one /16."""

    starts: memoryview = field(default_factory=lambda: _empty("I"))
    ends: memoryview = field(default_factory=lambda: _empty("I"))
    payloads: memoryview = field(default_factory=lambda: _empty("I"))
    buckets: memoryview = field(default_factory=lambda: view(np.zeros(BUCKETS + 1), "I"))

    @classmethod
    def of(
        cls, starts: npt.NDArray[Any], ends: npt.NDArray[Any], payloads: npt.NDArray[Any]
    ) -> _Table4:
        # buckets[k] = first interval starting at or after k << 16.
        edges = np.arange(BUCKETS, dtype=np.uint32) << np.uint32(V4_BITS - BUCKET_BITS)
        buckets = np.append(np.searchsorted(starts, edges.astype(starts.dtype)), len(starts))
        return cls(view(starts, "I"), view(ends, "I"), view(payloads, "I"), view(buckets, "I"))

    def find(self, value: int) -> int | None:
        top = value >> (V4_BITS - BUCKET_BITS)
        i = bisect_right(self.starts, value, self.buckets[top], self.buckets[top + 1]) - 1
        if i >= 0 and value <= self.ends[i]:
            return int(self.payloads[i])
        return None

    def __iter__(self) -> Iterator[Interval]:
        for first, last, payload in zip(self.starts, self.ends, self.payloads, strict=True):
            yield Interval(4, first, last, payload)


@dataclass(frozen=True, slots=True)
class _Table6:
    """IPv6 intervals as high/low 64-bit halves: 36 bytes an interval, no big ints."""

    starts_hi: memoryview = field(default_factory=lambda: _empty("Q"))
    starts_lo: memoryview = field(default_factory=lambda: _empty("Q"))
    ends_hi: memoryview = field(default_factory=lambda: _empty("Q"))
    ends_lo: memoryview = field(default_factory=lambda: _empty("Q"))
    payloads: memoryview = field(default_factory=lambda: _empty("I"))

    def find(self, value: int) -> int | None:
        hi, lo = value >> 64, value & _LOW64
        # Entries [a, b) share our high half; bisect their low halves (sorted there).
        a = bisect_left(self.starts_hi, hi)
        b = bisect_right(self.starts_hi, hi, a)
        i = bisect_right(self.starts_lo, lo, a, b) - 1
        if i < 0:
            return None
        end_hi = self.ends_hi[i]
        if hi < end_hi or (hi == end_hi and lo <= self.ends_lo[i]):
            return int(self.payloads[i])
        return None

    def __iter__(self) -> Iterator[Interval]:
        for i, payload in enumerate(self.payloads):
            first = self.starts_hi[i] << 64 | self.starts_lo[i]
            yield Interval(6, first, self.ends_hi[i] << 64 | self.ends_lo[i], payload)


@dataclass(frozen=True, slots=True)
class NetworkSet:
    """Listed networks of both families, each address answering one payload."""

    v4: _Table4 = field(default_factory=_Table4)
    v6: _Table6 = field(default_factory=_Table6)

    @classmethod
    def build(cls, items: Iterable[tuple[str | Span, int]]) -> NetworkSet:
        """Build from ``(network, payload)``; payload ``EXCLUDED`` carves a hole.

        ``network`` is ``a``, ``a/len``, ``a-b`` text or a ``(version, first,
        last)`` span.  An address takes the payload of its most specific entry
        (fewest addresses); on a tie an exclusion wins, then the earlier entry.

        Raises:
            ValueError: a network text is malformed or a payload out of range.
        """
        columns: dict[int, tuple[list[int], list[int], list[int]]] = {
            4: ([], [], []),
            6: ([], [], []),
        }
        for spec, payload in items:
            if payload != EXCLUDED and not 0 <= payload <= MAX_PAYLOAD:
                raise ValueError(f"payload {payload} outside 0..{MAX_PAYLOAD}")
            version, first, last = parse_span(spec) if isinstance(spec, str) else spec
            firsts, lasts, payloads = columns[version]
            firsts.append(first)
            lasts.append(last)
            payloads.append(HOLE if payload == EXCLUDED else payload)
        firsts, lasts, payloads = columns[4]
        v4 = (
            np.array(firsts, np.uint32),
            np.array(lasts, np.uint32),
            np.array(payloads, np.uint32),
        )
        firsts, lasts, payloads = columns[6]
        v6 = (*split128(firsts), *split128(lasts), np.array(payloads, np.uint32))
        return cls.of(v4, v6)

    @classmethod
    def of(cls, v4: Columns4, v6: Columns6) -> NetworkSet:
        """Build from columns: IPv4 (first, last, payload) and IPv6 (first hi, first lo,
        last hi, last lo, payload); payload ``HOLE`` carves a hole.  Rules as ``build``."""
        first_hi, first_lo, last_hi, last_lo, payloads = flatten128(*v6)
        table6 = _Table6(
            view(first_hi, "Q"),
            view(first_lo, "Q"),
            view(last_hi, "Q"),
            view(last_lo, "Q"),
            view(payloads, "I"),
        )
        return cls(_Table4.of(*flatten(*v4)), table6)

    def lookup(self, ip: str) -> int | None:
        """Payload of the most specific entry covering ``ip``, or None.

        Raises:
            ValueError: ``ip`` is not an IP address.
        """
        return self.lookup_int(*address_value(ip))

    def lookup_int(self, version: int, value: int) -> int | None:
        """Fast path of ``lookup`` for an already parsed address."""
        return self.v4.find(value) if version == 4 else self.v6.find(value)

    def intervals(self) -> Iterator[Interval]:
        """Every flattened interval, IPv4 first, in address order (holes left out)."""
        yield from self.v4
        yield from self.v6

    def __len__(self) -> int:
        return len(self.v4.payloads) + len(self.v6.payloads)
