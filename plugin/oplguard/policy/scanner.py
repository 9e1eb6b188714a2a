"""One message in, relay chain and verdict out: the scan pipeline.

Pure apart from reading the current list snapshot (one attribute read, so a
scan never sees half a reload).  Used by the server and by ``oplguard explain``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from oplguard.config.model import BLOCKED_LIST_NAME, Config, DnsblConfig, GroupConfig
from oplguard.config.vocabulary import Action, OnError
from oplguard.headerend import ends_within
from oplguard.lists.block import ListHit
from oplguard.lists.dnsbl import AnswerStatus, DnsblAnswer, DnsblSource, query_all
from oplguard.lists.entries import ListEntry
from oplguard.lists.health import HealthState, ListHealth
from oplguard.lists.store import ListStore
from oplguard.mail.limits import INLINE_HEADER_BYTES, TRUNCATED_SYMBOL, Slices
from oplguard.mail.networks import NetworkList
from oplguard.mail.relays import RelayChain, TrustSettings, advance, build_chain, chain_steps
from oplguard.mail.sa_config import read_sa_trust
from oplguard.policy.engine import ListHitLike, Policy, evaluate
from oplguard.policy.senders import SenderSet
from oplguard.policy.verdict import LookupFailure, Symbol, Verdict

log = logging.getLogger("oplguard.policy")

# Share of a request's deadline (child_timeout_s) that DNS lists may take at most.
DNS_SHARE_OF_REQUEST = 0.5

# The peer whose request is being scanned, for the one log line of a cut scan
# (set by the transport for each connection; "-" outside a connection).
CURRENT_PEER: ContextVar[str] = ContextVar("oplguard_peer", default="-")


def local_hit(
    list_name: str, category: str, network: str, reason: str, expires: str | None = None
) -> ListHit:
    """A hit that no list file holds: a Blocked Senders entry or a DNS list's answer."""
    return ListHit(list_name, category, ListEntry(network, reason, expires=expires))


@dataclass(frozen=True, slots=True)
class LookupTime:
    """How long one list took to answer for one IP (``local``: all list files at once)."""

    list_name: str
    ip: str
    status: AnswerStatus
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class Scan:
    """The relay chain of one message and its verdict."""

    chain: RelayChain
    verdict: Verdict
    elapsed_s: float
    lookups: tuple[LookupTime, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The ``explain --json`` document (schema in the README)."""
        verdict = self.verdict
        offending = verdict.offending
        return {
            "relays": [relay.as_dict() for relay in self.chain.relays],
            "connecting_ip": self.chain.connecting_ip,
            "checked_ips": list(verdict.checked_ips),
            "hits": [hit.as_dict() for hit in verdict.listed],
            "allowed": [entry.as_dict() for entry in verdict.allowed],
            "symbols": {symbol.name: symbol.score for symbol in verdict.symbols},
            "score": verdict.score,
            "required_score": verdict.required_score,
            "is_spam": verdict.is_spam,
            "action": verdict.action,
            "offending_ip": offending.ip if offending else None,
            "reason": verdict.reason,
            "list_failures": [failure.as_dict() for failure in verdict.failures],
        }


def short_header(message: bytes) -> bool:
    """True when the header section ends within ``INLINE_HEADER_BYTES`` (bounded searches)."""
    return ends_within(message, INLINE_HEADER_BYTES)


def trust_settings(config: Config) -> TrustSettings:
    """Trust from our config, merged with an existing SpamAssassin config.

    Raises:
        ConfigError: a network in either file is bad.
    """
    trust = config.trust

    def nets(values: tuple[str, ...] | None) -> NetworkList | None:
        return None if values is None else NetworkList.parse(list(values))

    own = TrustSettings(
        trusted=nets(trust.trusted_networks),
        internal=nets(trust.internal_networks),
        msa=nets(trust.msa_networks),
        originating_ip_headers=trust.originating_ip_headers,
    )
    if trust.sa_config is None:
        return own
    return own.merged(read_sa_trust(trust.sa_config))


def groups_of(config: Config) -> tuple[GroupConfig, ...]:
    """The configured groups, plus an implicit one for Blocked Senders."""
    groups = config.groups
    if config.blocked_senders and not any(BLOCKED_LIST_NAME in g.lists for g in groups):
        groups += (
            GroupConfig(
                name=BLOCKED_LIST_NAME,
                lists=(BLOCKED_LIST_NAME,),
                action=Action.REJECT,
                symbol="BLOCKED_SENDER",
                reason="Blocked sender",
            ),
        )
    return groups


def lookup_failure(
    cfg: DnsblConfig, health: ListHealth, ip: str, hop: int, answer: DnsblAnswer
) -> LookupFailure:
    """A DNS list that could not answer for ``ip``, with the error policy that applies.

    A monitor-only list does not count: its hits score 0, so its errors must
    neither score nor defer mail (``on_error`` becomes ``ignore``, and the
    detail says why).  An unreachable list keeps its ``on_error``.
    """
    if health.state == HealthState.MONITOR_ONLY:
        detail = f"{answer.detail} (list monitor-only, its errors do not count: {health.reason})"
        return LookupFailure(cfg.name, ip, hop, detail, OnError.IGNORE, cfg.error_symbol)
    return LookupFailure(cfg.name, ip, hop, answer.detail, cfg.on_error, cfg.error_symbol)


class Scanner:
    """Scores messages with one config and the current list snapshot."""

    def __init__(
        self,
        config: Config,
        lists: ListStore,
        trust: TrustSettings | None = None,
        health: dict[str, ListHealth] | None = None,
    ) -> None:
        self.config = config
        self.lists = lists
        self.trust = trust if trust is not None else trust_settings(config)
        self.policy = Policy(
            groups_of(config), config.scoring, SenderSet.build(config.allowed_senders)
        )
        self.blocked = SenderSet.build(config.blocked_senders)
        used = {name for group in self.policy.groups if group.enabled for name in group.lists}
        self.dns_configs = {cfg.name: cfg for cfg in config.dnsbls}
        old = health or {}
        self.health = {cfg.name: old.get(cfg.name) or ListHealth(cfg.name) for cfg in config.dnsbls}
        # Each source shares its list's breaker, kept across reloads by name.
        self.dns_sources = [
            DnsblSource(cfg, health=self.health[cfg.name])
            for cfg in config.dnsbls
            if cfg.name in used
        ]

    @property
    def dns_budget_s(self) -> float:
        """How long one message may wait for all its DNS lists together: ``[scoring]
        lookup_deadline_s``, and never more than half of the request's own deadline
        (``child_timeout_s``), so the local lists' verdict is always answered in time."""
        request = DNS_SHARE_OF_REQUEST * self.config.server.child_timeout_s
        return min(self.config.scoring.lookup_deadline_s, request)

    def lookup(self, ip: str, snapshot: Any, now: datetime) -> Sequence[ListHitLike]:
        """Every list hit of one IP: the list files and the Blocked Senders."""
        found: list[ListHitLike] = list(snapshot.lookup(ip, now))
        entry = self.blocked.match(ip, None, now)
        if entry is not None:
            expires = entry.expires.isoformat() if entry.expires else None
            reason = entry.comment or "listed in Blocked Senders"
            found.append(local_hit(BLOCKED_LIST_NAME, "blocked", entry.network, reason, expires))
        return found

    def _evaluate(
        self,
        chain: RelayChain,
        started: float,
        when: datetime,
        answers: dict[tuple[str, str], DnsblAnswer],
    ) -> Scan:
        snapshot = self.lists.snapshot
        failures = []
        hops = {relay.ip: relay.hop for relay in chain.checked}
        for (name, ip), answer in answers.items():
            if answer.status != AnswerStatus.ERROR:
                self.health[name].record(answer.status == AnswerStatus.LISTED)
                continue
            self.health[name].record_error()
            failures.append(
                lookup_failure(
                    self.dns_configs[name], self.health[name], ip, hops.get(ip, 0), answer
                )
            )
        monitor = frozenset(
            n for n, h in self.health.items() if h.state == HealthState.MONITOR_ONLY
        )
        timings = [LookupTime(n, ip, a.status, a.elapsed_s) for (n, ip), a in answers.items()]

        def lookup(ip: str) -> Sequence[ListHitLike]:
            begun = time.perf_counter()
            found = list(self.lookup(ip, snapshot, when))
            took = time.perf_counter() - begun
            status = AnswerStatus.LISTED if found else AnswerStatus.CLEAN
            timings.append(LookupTime("local", ip, status, took))
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "lookup ip=%s local lists -> %s in %.6fs",
                    ip,
                    ",".join(h.list_name for h in found) or "none",
                    took,
                )
            for source in self.dns_sources:
                answer = answers.get((source.config.name, ip))
                if answer is not None and answer.status == AnswerStatus.LISTED:
                    reason = f"listed in DNS zone {source.config.zone} ({','.join(answer.codes)})"
                    found.append(local_hit(source.config.name, answer.category, ip, reason))
            return found

        # Trusted relays are looked up in the local lists only (no DNS query
        # leaves for them), so that a listed one is shown as not counted.
        trusted = [relay for relay in chain.trusted if not relay.is_skipped]
        verdict = evaluate(chain, lookup, self.policy, when, failures, monitor, trusted)
        if chain.cuts:
            verdict = self._truncated(chain, verdict)
        return Scan(chain, verdict, time.perf_counter() - started, tuple(timings))

    def _truncated(self, chain: RelayChain, verdict: Verdict) -> Verdict:
        """``verdict`` with the symbol and log line that say which limits cut the scan."""
        what = "; ".join(cut.sentence() for cut in chain.cuts)
        log.warning(
            "scan cut peer=%s connecting_ip=%s: %s",
            CURRENT_PEER.get(),
            chain.connecting_ip or "-",
            what,
        )
        points = dict(self.config.scoring.scores).get(TRUNCATED_SYMBOL, 0.0)
        symbol = Symbol(TRUNCATED_SYMBOL, points, f"Scanned in part: {what}")
        return replace(
            verdict,
            symbols=(*verdict.symbols, symbol),
            score=round(verdict.score + points, 3),
        )

    async def chain_of(self, message: bytes) -> RelayChain:
        """The relay chain; a long header section is parsed in slices.

        A header section of ``INLINE_HEADER_BYTES`` is parsed in one go (about
        a millisecond).  A longer one (at most ``MAX_HEADER_BYTES`` are read)
        yields the event loop every ``SLICE_S`` so that other requests are
        served meanwhile, and stops after ``scan_cpu_budget_ms`` of its own time.
        """
        if short_header(message):
            return build_chain(message, self.trust)
        slices = Slices(self.config.scoring.scan_cpu_budget_ms / 1000)
        steps = chain_steps(message, self.trust, slices)
        while (chain := advance(steps)) is None:
            slices.pause()
            await asyncio.sleep(0)  # others run here; the clock of our budget does not
            slices.resume()
        return chain

    async def scan_async(self, message: bytes, now: datetime | None = None) -> Scan:
        """Parse, query DNS lists in parallel within the deadline, and score."""
        started = time.perf_counter()
        when = now or datetime.now(UTC)
        chain = await self.chain_of(message)
        answers: dict[tuple[str, str], DnsblAnswer] = {}
        if self.dns_sources and chain.checked:
            ips = list(dict.fromkeys(relay.ip for relay in chain.checked))
            answers = await query_all(self.dns_sources, ips, self.dns_budget_s)
        return self._evaluate(chain, started, when, answers)

    def scan(self, message: bytes, now: datetime | None = None) -> Scan:
        """Parse the relay chain of ``message`` and score it; never raises on input.

        Synchronous: runs its own event loop only when DNS lists are configured.
        """
        if self.dns_sources:
            return asyncio.run(self.scan_async(message, now))
        started = time.perf_counter()
        when = now or datetime.now(UTC)
        return self._evaluate(build_chain(message, self.trust), started, when, {})
