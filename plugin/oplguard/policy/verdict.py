"""The values a scan produces: hits, allow decisions and the verdict.

Pure data; every field is what an administrator needs to see why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ACTION_RANK = {"pass": 0, "tag": 1, "delete": 2, "reject": 3}


@dataclass(frozen=True, slots=True)
class Hit:
    """One IP of the relay chain found on one list."""

    ip: str
    hop: int
    list_name: str
    category: str
    symbol: str
    score: float
    group: str
    action: str
    phrase: str
    reason: str
    is_connecting: bool
    header: str
    listed_since: str | None = None
    expires: str | None = None
    monitor_only: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "monitor_only": self.monitor_only,
            "ip": self.ip,
            "hop": self.hop,
            "list": self.list_name,
            "category": self.category,
            "symbol": self.symbol,
            "score": self.score,
            "group": self.group,
            "action": self.action,
            "reason": self.reason,
            "connecting": self.is_connecting,
            "header": self.header,
            "listed_since": self.listed_since,
            "expires": self.expires,
        }

    def sentence(self) -> str:
        """Plain words: which IP, at which hop, on which list, and why."""
        where = "connecting IP" if self.is_connecting else "relay IP (claimed path)"
        text = (
            f"{self.phrase}: {where} {self.ip} at hop {self.hop} is listed on "
            f"{self.list_name} ({self.category})"
        )
        return f"{text}: {self.reason}" if self.reason else text


@dataclass(frozen=True, slots=True)
class Allowed:
    """An Allowed Senders entry that exempted an IP."""

    ip: str
    hop: int
    network: str
    scope: str
    comment: str
    expires: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "hop": self.hop,
            "network": self.network,
            "scope": self.scope,
            "comment": self.comment,
            "expires": self.expires,
        }


@dataclass(frozen=True, slots=True)
class LookupFailure:
    """A list that could not answer for one IP, and what its error policy says."""

    list_name: str
    ip: str
    hop: int
    detail: str
    on_error: str
    symbol: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "list": self.list_name,
            "ip": self.ip,
            "hop": self.hop,
            "detail": self.detail,
            "on_error": self.on_error,
            "symbol": self.symbol,
        }


@dataclass(frozen=True, slots=True)
class Symbol:
    """A rule that hit, with its score and a one-line description."""

    name: str
    score: float
    description: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of scoring one message."""

    score: float
    required_score: float
    symbols: tuple[Symbol, ...]
    hits: tuple[Hit, ...]
    allowed: tuple[Allowed, ...]
    action: str
    checked_ips: tuple[str, ...]
    failures: tuple[LookupFailure, ...] = ()

    @property
    def tempfail(self) -> bool:
        """A list whose policy is ``tempfail`` could not answer: the MTA should defer.

        Not when the lists that did answer already make the message spam: the
        missing answer could only add to that verdict, and deferring would lose
        it (spamc without ``-x`` delivers a deferred message unscanned).
        """
        return not self.is_spam and any(f.on_error == "tempfail" for f in self.failures)

    @property
    def is_spam(self) -> bool:
        return self.score >= self.required_score

    @property
    def offending(self) -> Hit | None:
        """The hit that decided the action (strongest action, then nearest hop)."""
        acting = [hit for hit in self.hits if not hit.monitor_only]
        if not acting:
            return None
        return min(acting, key=lambda hit: (-ACTION_RANK[hit.action], hit.hop))

    @property
    def reason(self) -> str:
        hit = self.offending
        if hit is not None:
            return hit.sentence()
        if self.allowed:
            first = self.allowed[0]
            return f"Allowed sender {first.ip} ({first.scope} scope, {first.network})"
        return "No relay IP is listed"
