"""One message in, relay chain and verdict out: the scan pipeline.

Pure apart from reading the current list snapshot (one attribute read, so a
scan never sees half a reload).  Used by the server and by ``oplguard explain``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from oplguard.config import BLOCKED_LIST_NAME, Config, GroupConfig
from oplguard.lists import ListStore
from oplguard.mail import NetworkList, RelayChain, TrustSettings, build_chain, read_sa_trust
from oplguard.policy.engine import ListHitLike, Policy, evaluate
from oplguard.policy.senders import SenderSet
from oplguard.policy.verdict import Verdict

log = logging.getLogger("oplguard.policy")


@dataclass(frozen=True, slots=True)
class LocalEntry:
    """A Blocked Senders entry seen as a list entry."""

    reason: str
    listed_since: str | None = None
    expires: str | None = None


@dataclass(frozen=True, slots=True)
class LocalHit:
    """A hit on the local Blocked Senders list."""

    list_name: str
    category: str
    entry: LocalEntry


@dataclass(frozen=True, slots=True)
class Scan:
    """The relay chain of one message and its verdict."""

    chain: RelayChain
    verdict: Verdict
    elapsed_s: float

    def as_dict(self) -> dict[str, Any]:
        """The ``explain --json`` document (schema in the README)."""
        verdict = self.verdict
        offending = verdict.offending
        return {
            "relays": [relay.as_dict() for relay in self.chain.relays],
            "connecting_ip": self.chain.connecting_ip,
            "checked_ips": list(verdict.checked_ips),
            "hits": [hit.as_dict() for hit in verdict.hits],
            "allowed": [entry.as_dict() for entry in verdict.allowed],
            "symbols": {symbol.name: symbol.score for symbol in verdict.symbols},
            "score": verdict.score,
            "required_score": verdict.required_score,
            "is_spam": verdict.is_spam,
            "action": verdict.action,
            "offending_ip": offending.ip if offending else None,
            "reason": verdict.reason,
        }


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
                action="reject",
                symbol="BLOCKED_SENDER",
                reason="Blocked sender",
            ),
        )
    return groups


class Scanner:
    """Scores messages with one config and the current list snapshot."""

    def __init__(
        self, config: Config, lists: ListStore, trust: TrustSettings | None = None
    ) -> None:
        self.config = config
        self.lists = lists
        self.trust = trust if trust is not None else trust_settings(config)
        self.policy = Policy(
            groups_of(config), config.scoring, SenderSet.build(config.allowed_senders)
        )
        self.blocked = SenderSet.build(config.blocked_senders)

    def lookup(self, ip: str, snapshot: Any, now: datetime) -> Sequence[ListHitLike]:
        """Every list hit of one IP: the list files and the Blocked Senders."""
        found: list[ListHitLike] = list(snapshot.lookup(ip))
        entry = self.blocked.match(ip, None, now)
        if entry is not None:
            expires = entry.expires.isoformat() if entry.expires else None
            reason = entry.comment or "listed in Blocked Senders"
            found.append(LocalHit(BLOCKED_LIST_NAME, "blocked", LocalEntry(reason, None, expires)))
        log.debug("lookup ip=%s hits=%s", ip, ",".join(h.list_name for h in found) or "none")
        return found

    def scan(self, message: bytes, now: datetime | None = None) -> Scan:
        """Parse the relay chain of ``message`` and score it; never raises on input."""
        started = time.perf_counter()
        when = now or datetime.now(UTC)
        chain = build_chain(message, self.trust)
        snapshot = self.lists.snapshot
        verdict = evaluate(chain, lambda ip: self.lookup(ip, snapshot, when), self.policy, when)
        return Scan(chain, verdict, time.perf_counter() - started)
