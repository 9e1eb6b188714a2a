"""Reverse-DNS diagnostics for one IP: PTR present, forward-confirmed, generic-looking.

The support article's first advice to a listed mail-server owner: have a PTR
record, make it resolve back to the IP (forward-confirmed reverse DNS), and
make it not look residential.  ``generic_name`` is pure; ``diagnose`` queries
the configured resolvers under one deadline and never raises on DNS trouble:
a timeout is a result, shown as such.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

log = logging.getLogger(__name__)

# A PTR set with more names than this is a misconfiguration; check the first few.
MAX_NAMES_CHECKED = 3
# Words ISPs put in the names of dynamically assigned, residential addresses
# (cf. SpamAssassin's RDNS_DYNAMIC rule and Spamhaus' generic-rDNS guidance).
GENERIC_WORDS = (
    "adsl", "bb", "broadband", "cable", "cpe", "client", "cust", "customer", "dhcp", "dial",
    "dialin", "dialup", "dip", "dsl", "dyn", "dynamic", "dynip", "fibre", "fiber", "ftth",
    "fttx", "home", "host", "ip", "lte", "mobile", "modem", "nat", "pool", "ppp", "pppoe",
    "res", "resident", "residential", "sdsl", "user", "vdsl", "wifi", "wireless", "xdsl",
)  # fmt: skip
_WORD = re.compile(r"[a-z]+")


class RdnsStatus(StrEnum):
    """What the PTR lookup found: names, none (NXDOMAIN or no PTR), no answer in time, a failure."""

    PRESENT = "present"
    MISSING = "missing"
    TIMEOUT = "timeout"
    ERROR = "error"


class GenericKind(StrEnum):
    """What makes a name look generic: the IP's own digits in it, or an ISP keyword."""

    IP_DIGITS = "ip-digits"
    KEYWORD = "keyword"


@dataclass(frozen=True, slots=True)
class GenericMatch:
    """Why a name looks generic: its ``kind`` and the pattern that matched."""

    kind: GenericKind
    pattern: str
    label: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": str(self.kind), "pattern": self.pattern, "label": self.label}


@dataclass(frozen=True, slots=True)
class ReverseDns:
    """The diagnosis of one IP's reverse DNS.

    Attributes:
        status: ``present``, ``missing`` (NXDOMAIN or no PTR), ``timeout`` or ``error``.
        forward_confirmed: the first PTR name resolves back to the IP; None when
            there is no name or the forward lookup failed.
        forward: the addresses the first PTR name resolves to.
    """

    ip: str
    status: RdnsStatus
    names: tuple[str, ...] = ()
    forward_confirmed: bool | None = None
    forward: tuple[str, ...] = ()
    generic: GenericMatch | None = None
    detail: str = ""
    advice: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "names": list(self.names),
            "forward_confirmed": self.forward_confirmed,
            "forward_addresses": list(self.forward),
            "generic": self.generic.as_dict() if self.generic else None,
            "detail": self.detail,
            "advice": list(self.advice),
        }


def ip_digit_forms(ip: str) -> list[str]:
    """Ways an ISP writes ``ip`` into a host name: dotted, dashed, reversed, zero-padded, hex."""
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        exploded = address.exploded.split(":")
        short = [group.lstrip("0") or "0" for group in exploded]
        low = exploded[4:]  # the interface half is what generic IPv6 names embed
        return [
            "-".join(short),
            "-".join(exploded),
            address.compressed.replace(":", "-").strip("-"),
            "-".join(low),
            "".join(low),
        ]
    octets = ip.split(".")
    forms = []
    for order in (octets, octets[::-1]):
        for pad in ("{}", "{:0>3}"):
            digits = [pad.format(o) for o in order]
            forms += [sep.join(digits) for sep in ("-", ".", "_", "x")]
            forms.append("".join(digits) if pad != "{}" else "")
    forms.append(f"{int(address):08x}")
    return [form for form in dict.fromkeys(forms) if form]


def generic_name(name: str, ip: str) -> GenericMatch | None:
    """Whether ``name`` looks like a generic (residential, dynamic) PTR name for ``ip``.

    The registered domain (last two labels) is not judged: ``dyn.com`` is a
    company, ``dyn-192-0-2-7.isp.example`` is a pool address.
    """
    labels = name.lower().rstrip(".").split(".")
    host_labels = labels[:-2] if len(labels) > 2 else labels[:1]
    host = ".".join(host_labels)
    for form in ip_digit_forms(ip):
        index = host.find(form)
        if index >= 0 and not _digit_around(host, index, len(form)):
            label = next((lab for lab in host_labels if form in lab), host)
            return GenericMatch(GenericKind.IP_DIGITS, form, label)
    for label in host_labels:
        for word in _WORD.findall(label):
            if word in GENERIC_WORDS:
                return GenericMatch(GenericKind.KEYWORD, word, label)
    return None


def _digit_around(text: str, start: int, length: int) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[start + length] if start + length < len(text) else ""
    return before.isdigit() or after.isdigit()


def make_resolver(
    servers: Sequence[tuple[str, int]], timeout_s: float
) -> dns.asyncresolver.Resolver:
    """A resolver on ``servers`` (``(ip, port)``), or the system's when empty."""
    if servers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in servers]
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.lifetime = timeout_s
    resolver.timeout = timeout_s
    return resolver


async def diagnose(ip: str, resolver: dns.asyncresolver.Resolver, timeout_s: float) -> ReverseDns:
    """Look up the PTR of ``ip`` and check each name; within ``timeout_s`` in all."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _diagnose(ip, resolver)
    except (TimeoutError, dns.exception.Timeout):
        return _advised(
            ReverseDns(ip, RdnsStatus.TIMEOUT, detail=f"no answer from DNS within {timeout_s:g} s")
        )


async def _diagnose(ip: str, resolver: dns.asyncresolver.Resolver) -> ReverseDns:
    try:
        answer = await resolver.resolve_address(ip)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return _advised(ReverseDns(ip, RdnsStatus.MISSING, detail="no PTR record"))
    except dns.resolver.NoNameservers as err:
        return ReverseDns(ip, RdnsStatus.ERROR, detail=f"DNS servers failed: {_short(err)}")
    names = tuple(str(rr.target).rstrip(".").lower() for rr in answer)[:MAX_NAMES_CHECKED]
    first = names[0]
    confirmed, forward, detail = await _forward(first, ip, resolver)
    generic = next((m for name in names if (m := generic_name(name, ip)) is not None), None)
    return _advised(ReverseDns(ip, RdnsStatus.PRESENT, names, confirmed, forward, generic, detail))


async def _forward(
    name: str, ip: str, resolver: dns.asyncresolver.Resolver
) -> tuple[bool | None, tuple[str, ...], str]:
    rdtype = "AAAA" if ipaddress.ip_address(ip).version == 6 else "A"
    try:
        answer = await resolver.resolve(name, rdtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return False, (), f"{name} has no {rdtype} record"
    except dns.resolver.NoNameservers as err:
        return None, (), f"forward lookup of {name} failed: {_short(err)}"
    found = tuple(str(ipaddress.ip_address(rr.address)) for rr in answer)
    return ip in found, found, ""


def _short(err: Exception) -> str:
    return str(err).splitlines()[0][:200]


def _advised(result: ReverseDns) -> ReverseDns:
    """Attach the article's advice for what the diagnosis found."""
    advice: list[str] = []
    if result.status == RdnsStatus.MISSING:
        advice.append(
            "Add a PTR record for this address (ask whoever runs the address block, "
            "often your hosting provider). Having no reverse DNS at all causes delivery "
            "problems at many large mail providers."
        )
    if result.forward_confirmed is False:
        advice.append(
            f"Make {result.names[0]} resolve back to {result.ip} (forward-confirmed reverse DNS)."
        )
    if result.generic is not None:
        advice.append(
            "Replace the generic name with one of your own (mail.example.com): generic "
            "reverse DNS is indistinguishable from residential broadband addresses."
        )
    return ReverseDns(
        result.ip,
        result.status,
        result.names,
        result.forward_confirmed,
        result.forward,
        result.generic,
        result.detail,
        tuple(advice),
    )
