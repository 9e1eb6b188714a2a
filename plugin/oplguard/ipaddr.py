"""The one definition of an IP address, an address span and a set of spans.

Pure, no I/O.  Every reader of an IP (config, access lists, sender matching, the
policy daemon, list files, export, removals, the web API) goes through here, so
they all give one answer to the three questions copies used to answer apart:

- **Leading zeros** (``192.0.02.1``): refused, never read as octal or decimal
  (relay-chain.md §6: not a checkable address).
- **Zone ids** (``fe80::1%eth0``): a typed address with one is refused (no list
  can hold it); an address *observed* on a socket or in a header
  (:func:`observed_value`) drops the zone, and what remains is link-local,
  which the skip table never checks (relay-chain.md §6).
- **IPv4-mapped IPv6** (``::ffff:a.b.c.d``): is the IPv4 address a.b.c.d, and
  ``::ffff:a.b.c.d/len`` is ``a.b.c.d/(len - 96)`` (relay-chain.md §3.7).

Surrounding whitespace is ignored everywhere.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from bisect import bisect_right
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Span = tuple[int, int, int]
"""(version, first, last): an inclusive address interval of one IP family."""

V4_BITS, V6_BITS = 32, 128
V4_VERSION = 4
_LEADING_ZERO = re.compile(r"(^|\.)0[0-9]")


def quad_value(text: str) -> int | None:
    """Fast path for ``a.b.c.d``: its value, or None to let ``ipaddress`` decide."""
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        return None
    if _LEADING_ZERO.search(text):  # refused by glibc already; not every libc does
        return None
    return int.from_bytes(packed, "big")


def parse_address(text: str) -> IPAddress:
    """One IP address; ``::ffff:a.b.c.d`` becomes the IPv4 address it maps.

    Raises:
        ValueError: not an address, leading zeros in IPv4, or an IPv6 zone id.
    """
    text = text.strip()
    parts = text.split(".")
    if ":" not in text and any(len(p) > 1 and p.startswith("0") for p in parts):
        fixed = ".".join(p.lstrip("0") or "0" for p in parts)
        raise ValueError(f"leading zeros in {text!r} are ambiguous (octal?); write {fixed}")
    if "%" in text:
        raise ValueError(f"{text!r} carries an IPv6 zone id, which no list can match")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def canonical_address(text: str) -> str:
    """Canonical text of one address (compressed lower-case IPv6, unmapped IPv4).

    Raises:
        ValueError: as :func:`parse_address`.
    """
    return str(parse_address(text))


def address_value(text: str) -> tuple[int, int]:
    """(version, integer value) of an IP address; IPv4-mapped IPv6 is IPv4.

    A plain dotted quad (the per-message case) skips the ``ipaddress`` object.

    Raises:
        ValueError: ``text`` is not an IP address.
    """
    text = text.strip()
    value = quad_value(text)
    if value is not None:
        return 4, value
    address = parse_address(text)
    return address.version, int(address)


def observed_value(text: str) -> tuple[int, int]:
    """:func:`address_value` of an address a socket or a header reported: a
    ``%zone`` suffix is dropped (the OS names its own interface), nothing else
    is forgiven.

    Raises:
        ValueError: ``text`` is not an IP address.
    """
    return address_value(text.partition("%")[0])


def parse_span(text: str, *, strict: bool = True) -> Span:
    """The interval of ``a``, ``a/len`` or ``a-b`` text.

    ``strict`` refuses host bits (``192.0.2.1/24``); otherwise they are masked.

    Raises:
        ValueError: with a short reason an administrator can act on.
    """
    text = text.strip()
    if "-" in text:
        first_text, _, last_text = text.partition("-")
        first, last = parse_address(first_text), parse_address(last_text)
        if first.version != last.version:
            raise ValueError(f"range {text!r} mixes IPv4 and IPv6")
        if int(last) < int(first):
            raise ValueError(f"range {text!r} goes down; write {last}-{first}")
        return first.version, int(first), int(last)
    if "/" in text:
        address_text, _, bits_text = text.partition("/")
        address_text, bits_text = address_text.strip(), bits_text.strip()
        address = parse_address(address_text)
        width = V6_BITS if ":" in address_text else V4_BITS
        if not (bits_text.isascii() and bits_text.isdigit()) or int(bits_text) > width:
            raise ValueError(f"bad prefix length in {text!r}; write 0 to {width} after the /")
        network = _network(address, int(bits_text), address_text, strict)
        return network.version, int(network.network_address), int(network.broadcast_address)
    version, value = address_value(text)
    return version, value, value


def _network(address: IPAddress, bits: int, written: str, strict: bool) -> Network:
    length = bits
    if ":" in written and address.version == V4_VERSION:
        length -= V6_BITS - V4_BITS  # ::ffff:a.b.c.d/len maps to a.b.c.d/(len - 96)
        if length < 0:
            raise ValueError(f"{written}/{bits} reaches outside the IPv4-mapped range")
    try:
        return ipaddress.ip_network((address, length), strict=True)
    except ValueError:
        masked = ipaddress.ip_network((address, length), strict=False)
        if not strict:
            return masked
        raise ValueError(
            f"host bits set in {written}/{bits}; write {masked} for the network "
            f"or {address} for one address"
        ) from None


def _kind(version: int) -> type[IPAddress]:
    return ipaddress.IPv4Address if version == V4_VERSION else ipaddress.IPv6Address


def span_networks(span: Span) -> list[Network]:
    """The CIDR networks covering exactly ``span``."""
    version, first, last = span
    kind = _kind(version)
    return list(ipaddress.summarize_address_range(kind(first), kind(last)))


def span_text(span: Span) -> str:
    """Canonical text of an interval: ``a``, ``net/len`` when exact, else ``a-b``."""
    version, first, last = span
    if version == V4_VERSION and first == last:  # the common case, without an object
        return socket.inet_ntop(socket.AF_INET, first.to_bytes(4, "big"))
    kind = _kind(version)
    if first == last:
        return str(kind(first))
    networks = span_networks(span)
    if len(networks) == 1:
        return str(networks[0])
    return f"{kind(first)}-{kind(last)}"


class SpanSet:
    """A set of addresses given as spans: merged, sorted, found by bisection.

    The small range set of access lists (``allowed_ips``); the big list sets
    with payloads are ``lists/ipset.NetworkSet``, built from the same spans.
    """

    __slots__ = ("_firsts", "_lasts")

    def __init__(self, spans: Iterable[Span]) -> None:
        self._firsts: dict[int, list[int]] = {4: [], 6: []}
        self._lasts: dict[int, list[int]] = {4: [], 6: []}
        for version, first, last in sorted(spans):
            firsts, lasts = self._firsts[version], self._lasts[version]
            if lasts and first <= lasts[-1] + 1:
                lasts[-1] = max(lasts[-1], last)
            else:
                firsts.append(first)
                lasts.append(last)

    @classmethod
    def parse(cls, items: Iterable[str]) -> SpanSet:
        """From ``a``, ``a/len`` or ``a-b`` texts (host bits masked).

        Raises:
            ValueError: an item is not one of these forms.
        """
        return cls(parse_span(item, strict=False) for item in items)

    def contains_value(self, version: int, value: int) -> bool:
        firsts = self._firsts.get(version, [])
        index = bisect_right(firsts, value) - 1
        return index >= 0 and value <= self._lasts[version][index]

    def __contains__(self, text: object) -> bool:
        """True when ``text`` (an address; a zone id dropped) is in the set."""
        if not isinstance(text, str):
            return False
        try:
            version, value = observed_value(text)
        except ValueError:
            return False
        return self.contains_value(version, value)


def enclosing_network(text: str, prefix_v4: int, prefix_v6: int) -> str:
    """The network of ``prefix_v4``/``prefix_v6`` bits that holds ``text`` (its /24 or
    /64, say), as CIDR text; ``text`` itself when it is no IP address."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    prefix = prefix_v4 if address.version == 4 else prefix_v6
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
