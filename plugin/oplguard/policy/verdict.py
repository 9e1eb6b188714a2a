"""The values a scan produces: hits, allow decisions and the verdict.

Pure data; every field is what an administrator needs to see why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from oplguard.config.vocabulary import Action, OnError

# Plain strings as keys: the config holds actions as text (this module is compiled).
ACTION_RANK: dict[str, int] = {
    action.value: rank
    for rank, action in enumerate((Action.PASS, Action.TAG, Action.DELETE, Action.REJECT))
}


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
    # Why this listed IP does not count (None: it counts): the group's action,
    # a disabled group, an allow entry, a monitor-only list, a trusted relay.
    because: str | None = None

    @property
    def counted(self) -> bool:
        """True when this hit scores and can decide the action."""
        return self.because is None and not self.monitor_only

    def as_dict(self) -> dict[str, Any]:
        return {
            "counted": self.counted,
            "because": self.because,
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

    def not_counted(self) -> str:
        """Plain words for a listed IP that does not count, and why."""
        return (
            f"{self.ip} at hop {self.hop} is listed on {self.list_name} ({self.category}) "
            f"but not counted: {self.because}"
        )


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
    # Listed IPs that do not count, each with its ``because`` (monitor-only
    # hits stay in ``hits`` with score 0 and their own ``because``).
    uncounted: tuple[Hit, ...] = ()

    @property
    def listed(self) -> tuple[Hit, ...]:
        """Every list hit of the chain, counted or not, newest hop first."""
        return tuple(sorted(self.hits + self.uncounted, key=lambda hit: hit.hop))

    @property
    def tempfail(self) -> bool:
        """A list whose policy is ``tempfail`` could not answer: the MTA should defer.

        Not when the lists that did answer already make the message spam: the
        missing answer could only add to that verdict, and deferring would lose
        it (spamc without ``-x`` delivers a deferred message unscanned).
        """
        return not self.is_spam and any(f.on_error == OnError.TEMPFAIL for f in self.failures)

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
        ignored = [hit for hit in self.listed if not hit.counted]
        if not ignored:
            return "No relay IP is listed"
        more = f" (and {len(ignored) - 1} more)" if len(ignored) > 1 else ""
        return f"No listed IP counts: {ignored[0].not_counted()}{more}"


def hop_results(verdict: Verdict, checked: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """What tracking stores per relay (ip, hop), in words an admin can search.

    ``listed:opl,zombies`` (counted), ``not counted:opl (why)`` (listed, not
    counted; never ``clean``; after ``allowed:NET;`` when an allow entry is why),
    ``allowed:NET``, ``clean``; then ``;error:LIST``
    when a list could not answer.  Listed relays outside ``checked`` (trusted
    ones) get their ``not counted`` result too.
    """
    counted: dict[tuple[str, int], list[str]] = {}
    ignored: dict[tuple[str, int], dict[str, list[str]]] = {}
    for hit in verdict.listed:
        key = (hit.ip, hit.hop)
        if hit.counted:
            counted.setdefault(key, []).append(hit.list_name)
        else:
            because = hit.because or ("monitor-only" if hit.monitor_only else "")
            why = ignored.setdefault(key, {}).setdefault(because, [])
            why.append(hit.list_name)
    allowed = {entry.ip: entry.network for entry in reversed(verdict.allowed)}
    failed: dict[str, list[str]] = {}
    for failure in verdict.failures:
        failed.setdefault(failure.ip, []).append(failure.list_name)
    out: dict[tuple[str, int], str] = {}
    for key in dict.fromkeys([*checked, *ignored]):
        parts = []
        if key[0] in allowed and key in ignored:  # the override that kept it from counting
            parts.append(f"allowed:{allowed[key[0]]}")
        if key in counted:
            parts.append("listed:" + ",".join(sorted(set(counted[key]))))
        for because, names in ignored.get(key, {}).items():
            parts.append(f"not counted:{','.join(sorted(set(names)))} ({because})")
        if not parts:
            parts.append(f"allowed:{allowed[key[0]]}" if key[0] in allowed else "clean")
        if key[0] in failed:
            parts.append("error:" + ",".join(sorted(set(failed[key[0]]))))
        out[key] = ";".join(parts)
    return out
