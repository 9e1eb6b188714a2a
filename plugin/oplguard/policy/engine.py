"""Turn a relay chain and list lookups into a verdict; pure, no I/O.

Allow-lists decide first; then each enabled sender group checks the IPs its
action covers: ``reject`` the connecting IP only, ``delete`` and ``tag``
every untrusted header IP.  Each symbol scores once, like a SpamAssassin rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from oplguard.config import GroupConfig, ScoringConfig, SenderEntry
from oplguard.policy.senders import SenderSet
from oplguard.policy.verdict import ACTION_RANK, Allowed, Hit, LookupFailure, Symbol, Verdict

log = logging.getLogger("oplguard.policy")

ALLOWED_SYMBOL = "ALLOWED_SENDER"


class EntryLike(Protocol):
    @property
    def reason(self) -> str: ...
    @property
    def listed_since(self) -> str | None: ...
    @property
    def expires(self) -> str | None: ...


class ListHitLike(Protocol):
    @property
    def list_name(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def entry(self) -> EntryLike: ...


class RelayLike(Protocol):
    @property
    def ip(self) -> str: ...
    @property
    def hop(self) -> int: ...
    @property
    def raw(self) -> str: ...


class ChainLike(Protocol):
    @property
    def connecting_ip(self) -> str | None: ...
    @property
    def checked(self) -> Sequence[RelayLike]: ...


Lookup = Callable[[str], Sequence[ListHitLike]]


@dataclass(frozen=True, slots=True)
class Policy:
    """Compiled sender groups, allow list and score table."""

    groups: tuple[GroupConfig, ...]
    scoring: ScoringConfig
    allow: SenderSet


def evaluate(
    chain: ChainLike,
    lookup: Lookup,
    policy: Policy,
    now: datetime,
    failures: Sequence[LookupFailure] = (),
    monitor_only: frozenset[str] = frozenset(),
) -> Verdict:
    """Score one message's relay chain.

    Args:
        chain: the parsed relay chain (``checked`` = untrusted, unskipped IPs).
        lookup: returns the list hits of one IP (all lists, enabled or not).
        policy: groups, allow list and scores.
        now: the time expiring entries are judged against.
        failures: lists that could not answer (DNS errors), with their policy.
        monitor_only: lists whose hits are reported but score 0 (circuit breaker).
    """
    relays = list(chain.checked)
    connecting = next((r for r in relays if r.ip == chain.connecting_ip), None)
    if connecting is not None:
        entry = policy.allow.match(connecting.ip, "connection", now)
        if entry is not None:
            allowed = (_allowed(connecting, entry),)
            log.debug(
                "connecting ip=%s allowed by %s: all checks skipped", connecting.ip, entry.network
            )
            return _verdict((), allowed, policy, tuple(r.ip for r in relays), ())
    allowed_list: list[Allowed] = []
    hits: list[Hit] = []
    hits_by_ip = {relay.ip: lookup(relay.ip) for relay in relays}
    for relay in relays:
        entry = policy.allow.match(relay.ip, "hop", now)
        if entry is not None:
            if hits_by_ip[relay.ip]:
                allowed_list.append(_allowed(relay, entry))
            log.debug("hop=%d ip=%s exempt by allow entry %s", relay.hop, relay.ip, entry.network)
            continue
        if log.isEnabledFor(logging.DEBUG):
            log.debug("hop=%d ip=%s no allow entry applies", relay.hop, relay.ip)
        is_connecting = relay is connecting
        for group in policy.groups:
            if not group.enabled or (group.action == "reject" and not is_connecting):
                continue
            for found in hits_by_ip[relay.ip]:
                if found.list_name in group.lists:
                    hit = _hit(relay, found, group, is_connecting, policy.scoring)
                    if found.list_name in monitor_only:
                        hit = replace(hit, score=0.0, monitor_only=True)
                    hits.append(hit)
    return _verdict(
        tuple(hits), tuple(allowed_list), policy, tuple(r.ip for r in relays), tuple(failures)
    )


def _allowed(relay: RelayLike, entry: SenderEntry) -> Allowed:
    expires = entry.expires.isoformat() if entry.expires else None
    return Allowed(relay.ip, relay.hop, entry.network, entry.scope, entry.comment, expires)


def _hit(
    relay: RelayLike,
    found: ListHitLike,
    group: GroupConfig,
    is_connecting: bool,
    scoring: ScoringConfig,
) -> Hit:
    symbol = f"{group.symbol}_{'CONNECTING' if is_connecting else 'RELAY'}"
    return Hit(
        ip=relay.ip,
        hop=relay.hop,
        list_name=found.list_name,
        category=found.category,
        symbol=symbol,
        score=scoring.score_of(symbol),
        group=group.name,
        action=group.action,
        phrase=group.reason,
        reason=found.entry.reason,
        is_connecting=is_connecting,
        header=relay.raw,
        listed_since=found.entry.listed_since,
        expires=found.entry.expires,
    )


def _verdict(
    hits: tuple[Hit, ...],
    allowed: tuple[Allowed, ...],
    policy: Policy,
    checked: tuple[str, ...],
    failures: tuple[LookupFailure, ...],
) -> Verdict:
    symbols: dict[str, Symbol] = {}
    for hit in sorted(hits, key=lambda h: h.hop):
        if hit.symbol not in symbols and not hit.monitor_only:
            symbols[hit.symbol] = Symbol(hit.symbol, hit.score, hit.sentence())
    if allowed:
        first = allowed[0]
        symbols[ALLOWED_SYMBOL] = Symbol(
            ALLOWED_SYMBOL,
            policy.scoring.score_of(ALLOWED_SYMBOL),
            f"Allowed sender {first.ip} at hop {first.hop} ({first.scope} scope, {first.network})",
        )
    for failure in failures:
        if failure.on_error == "score" and failure.symbol not in symbols:
            symbols[failure.symbol] = Symbol(
                failure.symbol,
                policy.scoring.score_of(failure.symbol),
                f"List {failure.list_name} unavailable for {failure.ip}: {failure.detail}",
            )
    score = round(sum(item.score for item in symbols.values()), 3)
    if log.isEnabledFor(logging.DEBUG):
        terms = " + ".join(f"{item.score:g} ({item.name})" for item in symbols.values())
        log.debug(
            "score %s = %g, required %g", terms or "nothing", score, policy.scoring.required_score
        )
    acting = (hit.action for hit in hits if not hit.monitor_only)
    action = max(acting, key=ACTION_RANK.__getitem__, default="pass")
    return Verdict(
        score=score,
        required_score=policy.scoring.required_score,
        symbols=tuple(symbols.values()),
        hits=hits,
        allowed=allowed,
        action=action,
        checked_ips=checked,
        failures=failures,
    )
