"""Turn a relay chain and list lookups into a verdict; pure, no I/O.

Allow-lists decide first; then each enabled sender group checks the IPs its
action covers: ``reject`` the connecting IP only, ``delete`` and ``tag``
every untrusted header IP.  Each symbol scores once, like a SpamAssassin rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from oplguard.config.model import GroupConfig, ScoringConfig, SenderEntry
from oplguard.config.vocabulary import Action, OnError, Scope
from oplguard.policy.senders import SenderSet
from oplguard.policy.verdict import ACTION_RANK, Allowed, Hit, LookupFailure, Symbol, Verdict

log = logging.getLogger("oplguard.policy")

ALLOWED_SYMBOL = "ALLOWED_SENDER"
# Why a listed IP does not count, when no group or allow entry is the reason.
TRUSTED_BECAUSE = (
    "trusted relay (behind the border: trusted_networks or SpamAssassin's inference): "
    "lists are not checked for it"
)
MONITOR_BECAUSE = "list {} is monitor-only: its circuit breaker tripped (oplguard lists status)"


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
    # Groups this policy leaves to another check, and why (policyd: the content scan).
    deferred: tuple[GroupConfig, ...] = ()
    deferred_because: str = ""


def evaluate(
    chain: ChainLike,
    lookup: Lookup,
    policy: Policy,
    now: datetime,
    failures: Sequence[LookupFailure] = (),
    monitor_only: frozenset[str] = frozenset(),
    trusted: Sequence[RelayLike] = (),
) -> Verdict:
    """Score one message's relay chain.

    Every listed IP ends up in the verdict: counted in ``hits``, or in
    ``uncounted`` with the reason it did not count.

    Args:
        chain: the parsed relay chain (``checked`` = untrusted, unskipped IPs).
        lookup: returns the list hits of one IP (all lists, enabled or not).
        policy: groups, allow list and scores.
        now: the time expiring entries are judged against.
        failures: lists that could not answer (DNS errors), with their policy.
        monitor_only: lists whose hits are reported but score 0 (circuit breaker).
        trusted: trusted relays; looked up only to say that they are not counted.
    """
    relays = list(chain.checked)
    connecting = next((r for r in relays if r.ip == chain.connecting_ip), None)
    tally = _Tally(policy, now, monitor_only)
    skip_all = policy.allow.match(connecting.ip, Scope.CONNECTION, now) if connecting else None
    if connecting is not None and skip_all is not None:
        tally.allowed.append(_allowed(connecting, skip_all))
        log.debug(
            "connecting ip=%s allowed by %s: all checks skipped", connecting.ip, skip_all.network
        )
    for relay in relays:
        found = lookup(relay.ip)
        if connecting is not None and skip_all is not None:
            because = _because_connection(skip_all, connecting, relay)
            tally.skip(relay, found, relay is connecting, because)
        else:
            tally.judge(relay, found, relay is connecting)
    for relay in trusted:
        tally.skip(relay, lookup(relay.ip), False, TRUSTED_BECAUSE)
    return _verdict(
        tuple(tally.hits),
        tuple(tally.allowed),
        policy,
        tuple(r.ip for r in relays),
        tuple(failures),
        tuple(tally.uncounted),
    )


def describe_entry(entry: SenderEntry) -> str:
    """``192.0.2.0/24 (connection scope, expires 2026-12-01T00:00:00+00:00, 'partner')``."""
    parts = [f"{entry.scope} scope"]
    if entry.expires is not None:
        parts.append(f"expires {entry.expires.isoformat()}")
    if entry.comment:
        parts.append(repr(entry.comment))
    return f"{entry.network} ({', '.join(parts)})"


def _because_connection(entry: SenderEntry, connecting: RelayLike, relay: RelayLike) -> str:
    """Why a hop is not counted when the connecting IP has a ``connection`` allow entry."""
    if relay is connecting:
        return f"allowed by entry {describe_entry(entry)}"
    return (
        f"the connecting IP {connecting.ip} is allowed by entry {describe_entry(entry)}, "
        "so no hop is checked"
    )


@dataclass(slots=True)
class _Tally:
    """The hits, the listed-but-not-counted hits and the allow decisions of one scan."""

    policy: Policy
    now: datetime
    monitor_only: frozenset[str]
    hits: list[Hit] = field(default_factory=list)
    uncounted: list[Hit] = field(default_factory=list)
    allowed: list[Allowed] = field(default_factory=list)

    def skip(
        self, relay: RelayLike, found: Sequence[ListHitLike], is_connecting: bool, because: str
    ) -> None:
        """Every hit of ``relay`` is listed but not counted, for one reason."""
        for item in found:
            self._uncounted(relay, item, None, is_connecting, because)

    def judge(self, relay: RelayLike, found: Sequence[ListHitLike], is_connecting: bool) -> None:
        """Hop allow entry first; then each group that has the list counts it, or says why not."""
        entry = self.policy.allow.match(relay.ip, Scope.HOP, self.now)
        if entry is not None:
            if found:
                self.allowed.append(_allowed(relay, entry))
            log.debug("hop=%d ip=%s exempt by allow entry %s", relay.hop, relay.ip, entry.network)
            self.skip(relay, found, is_connecting, f"allowed by entry {describe_entry(entry)}")
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("hop=%d ip=%s no allow entry applies", relay.hop, relay.ip)
        for group in self.policy.groups:
            for item in found:
                if item.list_name in group.lists:
                    self._group_hit(relay, item, group, is_connecting)
        grouped = {name for group in self.policy.groups for name in group.lists}
        for item in found:
            if item.list_name not in grouped:
                self._ungrouped(relay, item, is_connecting)

    def _ungrouped(self, relay: RelayLike, item: ListHitLike, is_connecting: bool) -> None:
        deferred = [g for g in self.policy.deferred if item.list_name in g.lists]
        for group in deferred:
            because = f"group {group.name} (action {group.action}) {self.policy.deferred_because}"
            self._uncounted(relay, item, group, is_connecting, because)
        if not deferred:
            because = f"list {item.list_name} is in no sender group"
            self._uncounted(relay, item, None, is_connecting, because)

    def _group_hit(
        self, relay: RelayLike, item: ListHitLike, group: GroupConfig, is_connecting: bool
    ) -> None:
        if not group.enabled:
            self._uncounted(relay, item, group, is_connecting, f"group {group.name} is disabled")
        elif group.action == Action.REJECT and not is_connecting:
            because = (
                f"group {group.name} has action reject, which checks the connecting IP only "
                f"(this is hop {relay.hop})"
            )
            self._uncounted(relay, item, group, is_connecting, because)
        else:
            hit = _hit(relay, item, group, is_connecting, self.policy.scoring)
            if item.list_name in self.monitor_only:
                because = MONITOR_BECAUSE.format(item.list_name)
                hit = replace(hit, score=0.0, monitor_only=True, because=because)
                _log_uncounted(hit)
            self.hits.append(hit)

    def _uncounted(
        self,
        relay: RelayLike,
        item: ListHitLike,
        group: GroupConfig | None,
        is_connecting: bool,
        because: str,
    ) -> None:
        hit = Hit(
            ip=relay.ip,
            hop=relay.hop,
            list_name=item.list_name,
            category=item.category,
            symbol="",
            score=0.0,
            group=group.name if group else "",
            action=group.action if group else "",
            phrase=group.reason if group else "Listed",
            reason=item.entry.reason,
            is_connecting=is_connecting,
            header=relay.raw,
            listed_since=item.entry.listed_since,
            expires=item.entry.expires,
            because=because,
        )
        _log_uncounted(hit)
        self.uncounted.append(hit)


def _log_uncounted(hit: Hit) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "hop=%d ip=%s listed on %s, not counted: %s",
            hit.hop,
            hit.ip,
            hit.list_name,
            hit.because,
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
    uncounted: tuple[Hit, ...] = (),
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
        if failure.on_error == OnError.SCORE and failure.symbol not in symbols:
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
    action = max(acting, key=ACTION_RANK.__getitem__, default=Action.PASS)
    return Verdict(
        score=score,
        required_score=policy.scoring.required_score,
        symbols=tuple(symbols.values()),
        hits=hits,
        allowed=allowed,
        action=action,
        checked_ips=checked,
        failures=failures,
        uncounted=uncounted,
    )
