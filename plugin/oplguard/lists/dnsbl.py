"""DNSBL sources: one DNS query per IP and zone (RFC 5782), answered as listed, clean or error.

Known provider error answers (127.255.255.0/24) and anything outside
127.0.0.0/8 are errors, never hits: a naive filter that reads them as
"listed" rejects all mail.  Every query has a timeout; answers are cached for
their TTL.  Only this module and the server await network I/O.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from oplguard.config import DnsblConfig

log = logging.getLogger("oplguard.lists")

LISTED, CLEAN, ERROR = "listed", "clean", "error"
# Spamhaus and others answer 127.255.255.x for "query refused/open resolver";
# RFC 5782 §2.1 keeps list answers inside 127.0.0.0/8.
PROVIDER_ERRORS = (ipaddress.ip_network("127.255.255.0/24"),)
LIST_ANSWERS = ipaddress.ip_network("127.0.0.0/8")
# Negative answers are cached this long when the zone gives no SOA minimum.
NEGATIVE_TTL_S = 60.0
MAX_CACHE_ENTRIES = 100_000


class Resolver(Protocol):
    """Resolves A records; returns (addresses, ttl), () for NXDOMAIN/NODATA."""

    async def resolve_a(self, name: str, timeout_s: float) -> tuple[tuple[str, ...], float]: ...


@dataclass(frozen=True, slots=True)
class DnsblAnswer:
    """One list's answer for one IP."""

    status: str
    codes: tuple[str, ...] = ()
    category: str = ""
    detail: str = ""
    elapsed_s: float = 0.0


def query_name(ip: str, zone: str) -> str:
    """``d.c.b.a.zone`` for IPv4, 32 reversed nibbles for IPv6 (RFC 5782 §2.1, §2.4)."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return ".".join(reversed(str(address).split("."))) + "." + zone
    nibbles = address.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + "." + zone


def classify(codes: Iterable[str], cfg: DnsblConfig) -> DnsblAnswer:
    """Map answer addresses to listed (with category) or error."""
    addresses = [ipaddress.ip_address(code) for code in codes]
    for address in addresses:
        if address.version != 4 or address not in LIST_ANSWERS:
            return DnsblAnswer(ERROR, tuple(codes), detail=f"answer {address} outside 127.0.0.0/8")
        if any(address in net for net in PROVIDER_ERRORS):
            return DnsblAnswer(ERROR, tuple(codes), detail=f"provider error code {address}")
    categories = [
        category for address in addresses if (category := match_code(address, cfg)) is not None
    ]
    if not categories:
        return DnsblAnswer(CLEAN, tuple(codes), detail="answer not in the return-code map")
    return DnsblAnswer(LISTED, tuple(codes), category=categories[0])


def match_code(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, cfg: DnsblConfig
) -> str | None:
    """The category of the first return-code rule matching ``address``.

    Rules: ``127.0.0.2`` exact, ``127.0.0.0/29`` range, ``mask:4`` bitmask on
    the last octet (any common bit); no rules = any 127/8 answer is listed.
    """
    if not cfg.returncodes:
        return cfg.category
    for rule, category in cfg.returncodes:
        if rule.startswith("mask:"):
            if int(address) & 0xFF & int(rule[len("mask:") :], 0):
                return category
        elif address in ipaddress.ip_network(rule, strict=False):
            return category
    return None


class DnsPythonResolver:
    """dnspython's asyncio resolver pointed at the configured nameservers."""

    def __init__(self, nameservers: tuple[str, ...]) -> None:
        self.resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            hosts, ports = zip(*(split_server(text) for text in nameservers), strict=True)
            self.resolver.nameservers = list(hosts)
            self.resolver.nameserver_ports = dict(zip(hosts, ports, strict=True))
            self.resolver.port = ports[0]
        self.resolver.cache = None  # our own cache respects TTLs per list

    async def resolve_a(self, name: str, timeout_s: float) -> tuple[tuple[str, ...], float]:
        try:
            answer = await self.resolver.resolve(
                name, dns.rdatatype.A, lifetime=timeout_s, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            return (), NEGATIVE_TTL_S
        if answer.rrset is None:
            return (), NEGATIVE_TTL_S
        return tuple(rdata.address for rdata in answer.rrset), float(answer.rrset.ttl)


def split_server(text: str) -> tuple[str, int]:
    """``127.0.0.1:5353`` / ``[::1]:53`` / ``127.0.0.1`` -> (host, port)."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return host, int(port or 53)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, 53


class DnsblSource:
    """One DNSBL zone with its resolver and a TTL-respecting cache."""

    def __init__(self, cfg: DnsblConfig, resolver: Resolver | None = None) -> None:
        self.config = cfg
        self.resolver = resolver or DnsPythonResolver(cfg.nameservers)
        self.cache: dict[str, tuple[float, DnsblAnswer]] = {}

    async def query(self, ip: str, use_cache: bool = True) -> DnsblAnswer:
        """The answer for ``ip``; never raises on network trouble."""
        now = time.monotonic()
        cached = self.cache.get(ip) if use_cache else None
        if cached is not None and cached[0] > now:
            return cached[1]
        started = time.perf_counter()
        name = query_name(ip, self.config.zone)
        try:
            codes, ttl = await self.resolver.resolve_a(name, self.config.timeout_s)
        except (dns.exception.DNSException, OSError, ValueError) as err:
            elapsed = time.perf_counter() - started
            log.warning(
                "dnsbl %s: query %s failed after %.3fs: %s",
                self.config.name,
                name,
                elapsed,
                type(err).__name__,
            )
            return DnsblAnswer(ERROR, detail=f"{type(err).__name__}: {err}", elapsed_s=elapsed)
        answer = classify(codes, self.config) if codes else DnsblAnswer(CLEAN)
        answer = DnsblAnswer(
            answer.status,
            answer.codes,
            answer.category,
            answer.detail,
            time.perf_counter() - started,
        )
        log.debug(
            "dnsbl %s: %s -> %s %s in %.3fs",
            self.config.name,
            name,
            answer.status,
            ",".join(answer.codes) or "-",
            answer.elapsed_s,
        )
        if answer.status != ERROR and use_cache:
            if len(self.cache) >= MAX_CACHE_ENTRIES:
                self.cache.clear()
            self.cache[ip] = (now + max(0.0, ttl), answer)
        return answer


async def probe(source: DnsblSource) -> tuple[bool, bool]:
    """RFC 5782 §5 test entries: (127.0.0.2 listed, 127.0.0.1 not listed)."""
    listed = await source.query("127.0.0.2", use_cache=False)
    clean = await source.query("127.0.0.1", use_cache=False)
    return listed.status == LISTED, clean.status == CLEAN


async def query_all(
    sources: Iterable[DnsblSource], ips: Iterable[str], deadline_s: float
) -> dict[tuple[str, str], DnsblAnswer]:
    """Every (list, ip) pair in parallel; pairs unanswered by the deadline are errors."""
    pairs = [(source, ip) for source in sources for ip in ips]
    if not pairs:
        return {}
    tasks = {(s.config.name, ip): asyncio.ensure_future(s.query(ip)) for s, ip in pairs}
    done, pending = await asyncio.wait(tasks.values(), timeout=deadline_s)
    for task in pending:
        task.cancel()
    results = {}
    for key, task in tasks.items():
        if task in done and not task.cancelled() and task.exception() is None:
            results[key] = task.result()
        else:
            results[key] = DnsblAnswer(ERROR, detail=f"no answer within the {deadline_s}s deadline")
    return results
