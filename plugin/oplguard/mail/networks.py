"""SpamAssassin-style network lists: ``trusted_networks``, ``internal_networks``, ``msa_networks``.

Pure: no I/O.  Syntax and semantics of SA's NetSet.pm without Net::Patricia: ``IP``,
``IP/len``, ``IPv4/netmask``, ``a.b.`` shorthand, ``[IPv6]/len``, ``a-b`` ranges,
``!`` exclusions; the first entry that contains an address decides (relay-chain.md §4).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from oplguard.errors import ConfigError
from oplguard.ipaddr import V4_BITS, V6_BITS
from oplguard.mail.addresses import IPNetwork, parse_ip

NETWORK_FIX = 'write "192.0.2.7", "192.0.2.0/24", "192.0.2." or "[2001:db8::]/32", "!" to exclude'
_IPV4_LIKE = re.compile(r"\d+(?:\.|$)", re.ASCII)
_IPV4_PARTS = re.compile(r"(\d{1,3})(?:\.(\d{1,3}))?(?:\.(\d{1,3}))?(?:\.(\d{1,3}))?\.?", re.ASCII)
_MAPPED_V4 = ipaddress.IPv6Network("::ffff:0:0/96")
MAX_OCTET = 255
# ::ffff:a.b.c.d/len is a.b.c.d/(len - 96).
MAPPED_PREFIX_BITS = V6_BITS - V4_BITS


@dataclass(frozen=True, slots=True)
class NetEntry:
    """One network of a list, as written (``text``) and as understood."""

    network: IPNetwork
    exclude: bool
    text: str


def _ipv4_shorthand(text: str) -> tuple[str, int]:
    """``10``, ``10.1``, ``10.1.2`` (trailing dot optional) or a full quad -> (addr, len)."""
    match = _IPV4_PARTS.fullmatch(text)
    if match is None or (text.endswith(".") and match.group(4) is not None):
        raise ValueError("not an IPv4 address or a.b.c. prefix")
    parts = [int(part) for part in match.groups() if part is not None]
    if any(part > MAX_OCTET for part in parts):
        raise ValueError("an IPv4 octet is above 255")
    # SA reads "010" as decimal 10 (sprintf "%d"), never as octal.
    return ".".join(map(str, parts + [0] * (4 - len(parts)))), 8 * len(parts)


def _network(address_text: str, mask: str | None) -> IPNetwork:
    if address_text.startswith("[") and address_text.endswith("]"):
        address_text = address_text[1:-1]
    address_text = address_text.partition("%")[0]
    if _IPV4_LIKE.match(address_text):
        address_text, implied = _ipv4_shorthand(address_text)
        mask = str(implied) if mask is None else mask
    elif parse_ip(address_text) is None:
        raise ValueError("not an IP address")
    network = ipaddress.ip_network(
        address_text if mask is None else f"{address_text}/{mask}", strict=False
    )
    if (
        isinstance(network, ipaddress.IPv6Network)
        and network.prefixlen >= MAPPED_PREFIX_BITS
        and network.subnet_of(_MAPPED_V4)
    ):
        mapped = network.network_address.ipv4_mapped
        prefix = network.prefixlen - MAPPED_PREFIX_BITS
        return ipaddress.ip_network(f"{mapped}/{prefix}", strict=False)
    return network


def _range(text: str) -> list[IPNetwork]:
    first_text, _, last_text = text.partition("-")
    first, last = parse_ip(first_text), parse_ip(last_text)
    if first is None or last is None or first.version != last.version or int(last) < int(first):
        raise ValueError("a range goes from the lower to the higher address of one family")
    return list(ipaddress.summarize_address_range(first, last))


def parse_entry(text: str) -> tuple[NetEntry, ...]:
    """One list item -> its networks (a range may need several CIDRs).

    Raises:
        ValueError: the item is not a network SpamAssassin would accept.
    """
    item = text.strip()
    exclude = item.startswith("!")
    item = item.removeprefix("!").strip()
    if not item:
        raise ValueError("empty network")
    if "-" in item:
        networks = _range(item)
    else:
        address_text, slash, mask = item.partition("/")
        networks = [_network(address_text, mask if slash else None)]
    return tuple(NetEntry(network, exclude, text.strip()) for network in networks)


@dataclass(frozen=True, slots=True)
class NetworkList:
    """An ordered list of networks with exclusions; the first containing entry wins."""

    entries: tuple[NetEntry, ...] = ()

    @classmethod
    def parse(cls, items: Iterable[str]) -> NetworkList:
        """Build a list from SA-syntax items (several per string, space separated).

        Raises:
            ConfigError: an item is not a network.
        """
        entries: list[NetEntry] = []
        for chunk in items:
            for item in chunk.split():
                try:
                    entries.extend(parse_entry(item))
                except ValueError as err:
                    raise ConfigError(f"bad network {item!r}: {err}", fix=NETWORK_FIX) from err
        return cls(tuple(entries))

    def __len__(self) -> int:
        return len(self.entries)

    def __add__(self, other: NetworkList) -> NetworkList:
        return NetworkList(self.entries + other.entries)

    def contains(self, ip: str) -> bool:
        """True when the first entry containing ``ip`` is not an exclusion."""
        address = parse_ip(ip)
        if address is None:
            return False
        for entry in self.entries:
            if entry.network.version == address.version and address in entry.network:
                return not entry.exclude
        return False

    def as_text(self) -> tuple[str, ...]:
        """The entries as written, for display and logs."""
        return tuple(entry.text for entry in self.entries)
