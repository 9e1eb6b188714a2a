"""DNSBL sources: one DNS query per IP and zone (RFC 5782), answered as listed, clean or error.

Known provider error answers (127.255.255.0/24) and anything outside
127.0.0.0/8 are errors, never hits: a naive filter that reads them as
"listed" rejects all mail.  Every query has a timeout; answers are cached for
their TTL.  Each source carries its circuit breaker (``lists.health``): a list
known to be unreachable is not queried, and the queries waiting on it when it
trips are answered at once.  Only this module and the server await network I/O.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from oplguard.config.model import DnsblConfig
from oplguard.lists.health import PROBE_CLEAN, PROBE_LISTED, ListHealth

log = logging.getLogger("oplguard.lists")


class AnswerStatus(StrEnum):
    """What one list answered for one IP: a hit, no hit, or no usable answer."""

    LISTED = "listed"
    CLEAN = "clean"
    ERROR = "error"


# Spamhaus and others answer 127.255.255.x for "query refused/open resolver";
# RFC 5782 §2.1 keeps list answers inside 127.0.0.0/8.
PROVIDER_ERRORS = (ipaddress.ip_network("127.255.255.0/24"),)
LIST_ANSWERS = ipaddress.ip_network("127.0.0.0/8")
# Negative answers are cached this long when the zone gives no SOA minimum.
NEGATIVE_TTL_S = 60.0
MAX_CACHE_ENTRIES = 100_000
# A query waiting longer than STALL_FACTOR times the slowest of the list's last
# LATENCY_SAMPLES answers (at least STALL_MIN_S, at most its timeout_s) while the
# server answers nothing else counts as unanswered: three such in a row open the
# breaker well before the timeout.  Loopback rbldnsd answers in about a
# millisecond; a resolver's cache misses raise the threshold by themselves.
# Until MIN_LATENCY_SAMPLES answers are known, only timeouts count.
STALL_MIN_S = 0.25
STALL_FACTOR = 2.0
LATENCY_SAMPLES = 50
MIN_LATENCY_SAMPLES = 5
# After the stall timer, answers already in the socket get this long to be read;
# a timer that fired this much late means the process was starved of CPU.
STALL_GRACE_S = 0.02
LATE_WAKEUP_S = 1.0
FIRST = asyncio.FIRST_COMPLETED
# The server's probe loop wakes this often and probes the lists that are due
# (lists.health: every list_probe_interval_s, or every few seconds when suspect).
PROBE_TICK_S = 1.0


class Resolver(Protocol):
    """Resolves A records; returns (addresses, ttl), () for NXDOMAIN/NODATA."""

    async def resolve_a(self, name: str, timeout_s: float) -> tuple[tuple[str, ...], float]: ...


@dataclass(frozen=True, slots=True)
class DnsblAnswer:
    """One list's answer for one IP."""

    status: AnswerStatus
    codes: tuple[str, ...] = ()
    category: str = ""
    detail: str = ""
    elapsed_s: float = 0.0
    # False when the server gave no answer at all (timeout, network error, the
    # budget ran out, the breaker is open): unreachable, which is not wrong.
    answered: bool = True


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
            return DnsblAnswer(
                AnswerStatus.ERROR, tuple(codes), detail=f"answer {address} outside 127.0.0.0/8"
            )
        if any(address in net for net in PROVIDER_ERRORS):
            return DnsblAnswer(
                AnswerStatus.ERROR, tuple(codes), detail=f"provider error code {address}"
            )
    categories = [
        category for address in addresses if (category := match_code(address, cfg)) is not None
    ]
    if not categories:
        return DnsblAnswer(
            AnswerStatus.CLEAN, tuple(codes), detail="answer not in the return-code map"
        )
    return DnsblAnswer(AnswerStatus.LISTED, tuple(codes), category=categories[0])


def match_code(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, cfg: DnsblConfig
) -> str | None:
    """The category of the first return-code rule matching ``address``.

    Rules: ``127.0.0.2`` exact, ``127.0.0.0/29`` range, ``mask:4`` bitmask on
    the last octet (any common bit); no rules = any 127/8 answer is listed.
    """
    if not cfg.rules:
        return cfg.category
    value = int(address)
    for (mask, version, first, last), category in cfg.rules:
        if mask:
            if value & 0xFF & mask:
                return category
        elif version == address.version and first <= value <= last:
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


@dataclass(slots=True)
class Attempt:
    """One query sent: when, and whether it already counted as unanswered (stalled)."""

    sent: float
    counted: bool = False


class BreakerOpen(Exception):
    """The list's breaker opened while this query waited: answer it at once."""

    def __init__(self) -> None:
        super().__init__("the list's breaker opened while waiting")


class DnsblSource:
    """One DNSBL zone with its resolver, a TTL-respecting cache and its circuit breaker."""

    def __init__(
        self, cfg: DnsblConfig, resolver: Resolver | None = None, health: ListHealth | None = None
    ) -> None:
        self.config = cfg
        self.resolver = resolver or DnsPythonResolver(cfg.nameservers)
        self.cache: dict[str, tuple[float, DnsblAnswer]] = {}
        self.health = health if health is not None else ListHealth(cfg.name)
        # One future per query in flight, resolved when the breaker opens.
        self.waiting: set[asyncio.Future[None]] = set()
        self.last_answer = 0.0  # time.monotonic() of the server's last answer
        self.latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)

    async def query(self, ip: str, use_cache: bool = True) -> DnsblAnswer:
        """The answer for ``ip``; never raises on network trouble.

        With ``use_cache`` (relay lookups) a list known to be unreachable is
        not queried; without it (probes) the query is always sent.
        """
        now = time.monotonic()
        cached = self.cache.get(ip) if use_cache else None
        if cached is not None and cached[0] > now:
            return cached[1]
        if use_cache and self.health.is_unreachable:
            return DnsblAnswer(
                AnswerStatus.ERROR, detail=self.health.note_skipped(), answered=False
            )
        started = time.perf_counter()
        name = query_name(ip, self.config.zone)
        attempt = Attempt(time.monotonic())
        try:
            codes, ttl = await self._resolve(name, attempt)
        except BreakerOpen:
            detail = self.health.note_skipped()
            elapsed = time.perf_counter() - started
            return DnsblAnswer(AnswerStatus.ERROR, detail=detail, elapsed_s=elapsed, answered=False)
        except (dns.exception.DNSException, OSError, ValueError) as err:
            return self._unanswered(name, err, time.perf_counter() - started, attempt)
        self._answered(time.perf_counter() - started)
        answer = classify(codes, self.config) if codes else DnsblAnswer(AnswerStatus.CLEAN)
        answer = replace(answer, elapsed_s=time.perf_counter() - started)
        log.debug(
            "dnsbl %s: %s -> %s %s in %.3fs",
            self.config.name,
            name,
            answer.status,
            ",".join(answer.codes) or "-",
            answer.elapsed_s,
        )
        if answer.status != AnswerStatus.ERROR and use_cache:
            if len(self.cache) >= MAX_CACHE_ENTRIES:
                self.cache.clear()
            self.cache[ip] = (now + max(0.0, ttl), answer)
        return answer

    async def _resolve(self, name: str, attempt: Attempt) -> tuple[tuple[str, ...], float]:
        """The resolver's answer, or BreakerOpen as soon as the breaker opens.

        A query still waiting after ``stall_s`` while the server has answered
        nothing since it was sent counts as unanswered at once: a stalled server
        is detected in a fraction of the timeout, before the requests waiting
        on it fill every connection slot.
        """
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lookup = asyncio.ensure_future(self.resolver.resolve_a(name, self.config.timeout_s))
        waits = (lookup, gate)
        self.waiting.add(gate)
        try:
            stall = self.stall_s
            done, _ = await asyncio.wait(waits, timeout=stall, return_when=FIRST)
            if not done:  # let answers already received be read before calling it a stall
                done, _ = await asyncio.wait(waits, timeout=STALL_GRACE_S, return_when=FIRST)
            # A much later wake-up means our own event loop was starved, not the server.
            on_time = time.monotonic() - attempt.sent < stall + LATE_WAKEUP_S
            if not done and on_time and self.last_answer < attempt.sent:
                attempt.counted = True
                self.note_unanswered(f"no answer for {stall:.2f}s, nor to any other query")
            if not done:
                await asyncio.wait(waits, return_when=FIRST)
        finally:
            self.waiting.discard(gate)
            if not lookup.done():
                lookup.cancel()
        if not lookup.done():
            raise BreakerOpen
        return lookup.result()

    @property
    def stall_s(self) -> float:
        """How long a query may wait before it counts as a stall (see ``_resolve``)."""
        if len(self.latencies) < MIN_LATENCY_SAMPLES:
            return self.config.timeout_s
        slowest = max(STALL_MIN_S, STALL_FACTOR * max(self.latencies))
        return min(slowest, self.config.timeout_s)

    def _answered(self, elapsed: float) -> None:
        self.last_answer = time.monotonic()
        self.latencies.append(elapsed)
        self.health.note_answered()

    def _unanswered(
        self, name: str, err: BaseException, elapsed: float, attempt: Attempt
    ) -> DnsblAnswer:
        detail = f"{type(err).__name__}: {err}"
        log.warning(
            "dnsbl %s: query %s failed after %.3fs: %s",
            self.config.name,
            name,
            elapsed,
            type(err).__name__,
        )
        if not attempt.counted:
            self.note_unanswered(detail)
        return DnsblAnswer(AnswerStatus.ERROR, detail=detail, elapsed_s=elapsed, answered=False)

    def note_unanswered(self, detail: str) -> None:
        """Count a query without an answer; if that opens the breaker, release the waiters
        (only then: a probe of a list already unreachable waits for its own answer)."""
        was_unreachable = self.health.is_unreachable
        self.health.note_unanswered(detail)
        if self.health.is_unreachable and not was_unreachable:
            for gate in self.waiting:
                if not gate.done():
                    gate.set_result(None)


async def probe(source: DnsblSource) -> tuple[bool, bool]:
    """RFC 5782 §5 test entries, both at once: (127.0.0.2 listed, 127.0.0.1 not listed).

    Feeds the source's breaker: an unanswered probe counts as unreachable,
    never as a wrong answer.
    """
    listed, clean = await asyncio.gather(
        source.query(PROBE_LISTED, use_cache=False), source.query(PROBE_CLEAN, use_cache=False)
    )
    unanswered = not (listed.answered and clean.answered)
    listed_ok, clean_ok = listed.status == AnswerStatus.LISTED, clean.status == AnswerStatus.CLEAN
    source.health.probe(listed_ok, clean_ok, unanswered)
    return listed_ok, clean_ok


async def probe_due(sources: Sequence[DnsblSource], interval_s: float) -> None:
    """Probe, in parallel, each list whose next probe is due; the server calls this each
    PROBE_TICK_S.  ``interval_s`` for healthy lists, a few seconds for the others."""
    now = time.monotonic()
    due = [source for source in sources if source.health.next_probe <= now]
    if not due:
        return
    await asyncio.gather(*(probe(source) for source in due))
    now = time.monotonic()
    for source in due:
        source.health.next_probe = now + source.health.probe_delay(interval_s)


async def query_all(
    sources: Iterable[DnsblSource], ips: Iterable[str], deadline_s: float
) -> dict[tuple[str, str], DnsblAnswer]:
    """Every (list, ip) pair in parallel within the per-message budget ``deadline_s``;
    pairs unanswered by then are errors (and count as unanswered for the list's breaker)."""
    pairs = [(source, ip) for source in sources for ip in ips]
    if not pairs:
        return {}
    tasks = {(s, ip): asyncio.ensure_future(s.query(ip)) for s, ip in pairs}
    done, pending = await asyncio.wait(tasks.values(), timeout=deadline_s)
    for task in pending:
        task.cancel()
    results = {}
    for (source, ip), task in tasks.items():
        if task in done and not task.cancelled() and task.exception() is None:
            results[(source.config.name, ip)] = task.result()
            continue
        detail = f"no answer within the per-message deadline of {deadline_s:g}s"
        source.note_unanswered(detail)
        results[(source.config.name, ip)] = DnsblAnswer(
            AnswerStatus.ERROR, detail=detail, answered=False
        )
    return results
