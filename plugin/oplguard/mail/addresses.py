"""Canonical IP text, SpamAssassin's IP pattern and the skip table (relay-chain.md §3.7, §6).

Pure: no I/O.  Dotted quads with leading zeros are rejected, never read as octal;
the ranges are an explicit table, not ``ipaddress``' ``is_private``/``is_global``.

The reading of one address gives the answers of ipaddr.py (the one IP module;
tests/unit/test_ipaddr.py holds them to it) but keeps its own loop: this module
is compiled (mypyc) and runs per relay per message, and mail text adds forms a
typed address has not (``[…]``, ``IPv6:``).  A ``%zone`` is dropped as for any
observed address (ipaddr.observed_value): the rest is link-local, so skipped.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# SpamAssassin Constants.pm IP_ADDRESS: a dotted quad without leading zeros, or
# IPv6 in any compressed form (also IPv4-suffixed), optional "IPv6:" prefix.
_OCTET = r"(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)"
_QUAD = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
_H = r"[a-f0-9]{1,4}"
_V6_HEAD_OF_V4 = (
    rf"(?:{_H}:){{6}}",
    rf"::(?:{_H}:){{0,5}}",
    rf"(?:{_H}:){{1,5}}:",
    rf"{_H}::(?:{_H}:){{1,4}}",
    rf"(?:{_H}:){{2}}:(?:{_H}:){{1,3}}",
    rf"(?:{_H}:){{3}}:(?:{_H}:){{1,2}}",
    rf"(?:{_H}:){{4}}:{_H}:",
)
_V6_PURE = (
    rf"(?:{_H}:){{7}}{_H}",
    rf":(?::{_H}){{1,7}}",
    rf"(?:{_H}:){{1,7}}:",
    rf"{_H}:(?::{_H}){{1,6}}",
    rf"(?:{_H}:){{2}}(?::{_H}){{1,5}}",
    rf"(?:{_H}:){{3}}(?::{_H}){{1,4}}",
    rf"(?:{_H}:){{4}}(?::{_H}){{1,3}}",
    rf"(?:{_H}:){{5}}(?::{_H}){{1,2}}",
    rf"(?:{_H}:){{6}}:{_H}",
    r"::",
)
IP_ADDRESS = (
    rf"(?i:\b(?<!:){_QUAD}\b"
    rf"|(?:IPv6:|(?<![a-f0-9:]))"
    rf"(?:(?:{'|'.join(_V6_HEAD_OF_V4)}){_QUAD}|{'|'.join(_V6_PURE)})"
    r"(?![a-f0-9:]))"
)
IP_ADDRESS_RE = re.compile(IP_ADDRESS, re.ASCII)

_IPV4_TEXT = re.compile(rf"{_QUAD}", re.ASCII)
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]+", re.ASCII)
_IPV6_PREFIX = "ipv6:"
# Longest IPv6 text: 8 groups of 4 hex digits plus 7 colons, or an IPv4 tail.
MAX_IP_TEXT_CHARS = 45

NOT_AN_IP = "not an IP address"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))

# SpamAssassin Constants.pm IP_PRIVATE: the "ip_private" flag that keeps
# trust going in inference mode (RFC 1918, loopback, link-local, CGN).
PRIVATE_NETWORKS: tuple[tuple[str, str], ...] = (
    ("10.0.0.0/8", "private use (RFC 1918)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    ("169.254.0.0/16", "link-local (RFC 3927)"),
    ("172.16.0.0/12", "private use (RFC 1918)"),
    ("192.168.0.0/16", "private use (RFC 1918)"),
    ("100.64.0.0/10", "shared address space for CGN (RFC 6598)"),
    ("::1/128", "loopback (RFC 4291)"),
    ("fe80::/10", "link-local (RFC 4291)"),
)
# relay-chain.md §6: never query, never call "connecting IP".  SA's private set plus
# addresses that are not valid SMTP clients.  Documentation ranges are public.
SKIP_NETWORKS: tuple[tuple[str, str], ...] = (
    *PRIVATE_NETWORKS,
    ("0.0.0.0/8", "this network (RFC 1122)"),
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved, incl. limited broadcast (RFC 1112, RFC 919)"),
    ("::/128", "unspecified address (RFC 4291)"),
    ("fc00::/7", "unique local address (RFC 4193)"),
    ("ff00::/8", "multicast (RFC 4291)"),
)


def _compile(table: tuple[tuple[str, str], ...]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), reason) for net, reason in table)


_PRIVATE = _compile(PRIVATE_NETWORKS)
_SKIP = _compile(SKIP_NETWORKS)

V4Table = tuple[tuple[int, int, str], ...]


def _v4_ranges(table: tuple[tuple[IPNetwork, str], ...]) -> V4Table:
    """The IPv4 rows of ``table`` as integer ranges, in table order (first match wins)."""
    return tuple(
        (int(net.network_address), int(net.broadcast_address), reason)
        for net, reason in table
        if net.version == 4
    )


# The scan path sees canonical dotted quads: checking them as integers avoids
# building an ipaddress object per relay per message.
_PRIVATE_V4 = _v4_ranges(_PRIVATE)
_SKIP_V4 = _v4_ranges(_SKIP)


def _quad_value(text: str) -> int | None:
    """The integer of a plain dotted quad as SA writes it (no leading zeros), else None."""
    if _IPV4_TEXT.fullmatch(text) is None:
        return None
    return int.from_bytes(socket.inet_aton(text), "big")


def _match_v4(value: int, table: V4Table) -> str | None:
    for first, last, reason in table:
        if first <= value <= last:
            return reason
    return None


def parse_ip(text: str) -> IPAddress | None:
    """Read one IP as written in a header or config, or None if it is not one.

    Accepts ``[…]`` brackets, an ``IPv6:`` prefix and a ``%zone`` suffix;
    IPv4-mapped IPv6 becomes the IPv4 address; leading zeros are rejected.
    """
    text = text.strip()
    if len(text) > 2 * MAX_IP_TEXT_CHARS:
        return None
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text[: len(_IPV6_PREFIX)].lower() == _IPV6_PREFIX:
        text = text[len(_IPV6_PREFIX) :]
    text = text.partition("%")[0]
    if ":" not in text:
        return ipaddress.IPv4Address(text) if _IPV4_TEXT.fullmatch(text) else None
    if not _IPV6_CHARS.fullmatch(text) or ("." in text and not _has_clean_v4_tail(text)):
        return None
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return address.ipv4_mapped or address


def _has_clean_v4_tail(text: str) -> bool:
    return _IPV4_TEXT.fullmatch(text.rpartition(":")[2]) is not None


@lru_cache(maxsize=4096)
def canonical_ip(text: str) -> str | None:
    """Canonical text of an IP (lower-case compressed IPv6, unmapped IPv4), or None."""
    if _IPV4_TEXT.fullmatch(text):  # a plain quad without leading zeros is canonical
        return text
    address = parse_ip(text)
    return None if address is None else str(address)


def _match(address: IPAddress, table: tuple[tuple[IPNetwork, str], ...]) -> str | None:
    for network, reason in table:
        if address.version == network.version and address in network:
            return reason
    return None


def skip_reason(ip: str) -> str | None:
    """Why ``ip`` is never looked up (relay-chain.md §6), or None when it is public."""
    value = _quad_value(ip)
    if value is not None:
        return _match_v4(value, _SKIP_V4)
    address = parse_ip(ip)
    return NOT_AN_IP if address is None else _match(address, _SKIP)


def is_skipped(ip: str) -> bool:
    """True when ``ip`` is on the skip table (or is not an IP at all)."""
    return skip_reason(ip) is not None


def is_private(ip: str) -> bool:
    """SpamAssassin's ``ip_private`` flag: keeps trust going in inference mode."""
    value = _quad_value(ip)
    if value is not None:
        return _match_v4(value, _PRIVATE_V4) is not None
    address = parse_ip(ip)
    return address is not None and _match(address, _PRIVATE) is not None


def is_loopback(ip: str) -> bool:
    """127/8 and ::1: always trusted and internal (SA Conf.pm)."""
    address = parse_ip(ip)
    return address is not None and any(
        address.version == net.version and address in net for net in LOOPBACK
    )


def find_ips(text: str) -> tuple[str, ...]:
    """Every IP-looking substring of ``text`` (SA's pattern), canonical, in order."""
    found = (canonical_ip(m.group(0)) for m in IP_ADDRESS_RE.finditer(text))
    return tuple(ip for ip in found if ip is not None)
