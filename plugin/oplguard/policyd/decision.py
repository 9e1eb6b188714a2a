"""Connection-time verdicts for Postfix: one client IP in, an access(5) action out.

Pure.  Only sender groups with action ``reject`` decide here: the support
article's "Reject SMTP Connection" checks the connecting IP only, while
``delete`` and ``tag`` need the message's Received chain, after DATA.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from oplguard.config.vocabulary import Action, OnError
from oplguard.mail.addresses import canonical_ip, is_skipped
from oplguard.mail.relays import ChainRelay, RelayChain
from oplguard.policy.engine import Lookup, Policy, evaluate
from oplguard.policy.report import lookup_link
from oplguard.policy.verdict import Hit, LookupFailure, Verdict

# RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its code and
# CRLF; Postfix adds "554 5.7.1 <client>: Client host rejected: " in front.
MAX_REPLY_TEXT_CHARS = 380
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


class PolicyAction(StrEnum):
    """The access(5) actions this daemon answers, spelled as Postfix reads them."""

    DUNNO = "DUNNO"
    REJECT = "REJECT"
    DEFER_IF_PERMIT = "DEFER_IF_PERMIT"


@dataclass(frozen=True, slots=True)
class Decision:
    """The action for Postfix and why, for the log line."""

    action: PolicyAction
    text: str = ""
    ip: str = ""
    why: str = ""
    verdict: Verdict | None = None

    @property
    def reply(self) -> str:
        """What follows ``action=`` on the wire."""
        return f"{self.action} {self.text}" if self.text else str(self.action)


def connection_policy(policy: Policy) -> Policy:
    """The same policy with only the enabled groups whose action is ``reject``."""
    groups = tuple(g for g in policy.groups if g.enabled and g.action == Action.REJECT)
    later = tuple(g for g in policy.groups if g.enabled and g.action != Action.REJECT)
    because = "is checked by the content scan after DATA, not at connection time"
    return replace(policy, groups=groups, deferred=later, deferred_because=because)


def reject_lists(policy: Policy) -> frozenset[str]:
    """The lists whose answers can change a connection-time decision."""
    return frozenset(name for group in connection_policy(policy).groups for name in group.lists)


def client_chain(ip: str, name: str) -> RelayChain:
    """The client as a chain of one untrusted relay, described like a Received clause."""
    raw = f"client {name or 'unknown'}[{ip}] (SMTP connection)"
    relay = ChainRelay(
        ip=ip,
        rdns=name,
        helo="",
        by="",
        ident="",
        envfrom="",
        id="",
        auth="",
        msa=False,
        hop=1,
        trusted=False,
        internal=False,
        originating=False,
        is_skipped=False,
        raw=raw,
    )
    return RelayChain(relays=(relay,), connecting_ip=ip, last_external=ip, checked=(relay,))


def client_ip(text: str) -> str | None:
    """The canonical client address, or None if there is nothing to check."""
    ip = canonical_ip(text.strip())
    if ip is None or is_skipped(ip):
        return None
    return ip


def decide(
    chain: RelayChain,
    lookup: Lookup,
    policy: Policy,
    now: datetime,
    failures: Sequence[LookupFailure] = (),
    lookup_url: str = "",
    monitor_only: frozenset[str] = frozenset(),
) -> Decision:
    """REJECT a client listed by a ``reject`` group, else DUNNO.

    A list of a ``reject`` group that could not answer makes it
    DEFER_IF_PERMIT when that list's ``on_error`` is ``tempfail``; a list the
    circuit breaker switched to monitor-only never rejects.
    """
    policy = connection_policy(policy)
    verdict = evaluate(chain, lookup, policy, now, failures, monitor_only)
    ip = chain.connecting_ip or ""
    hit = verdict.offending
    if hit is not None and hit.action == Action.REJECT:
        return Decision(PolicyAction.REJECT, reject_text(hit, lookup_url), ip, "listed", verdict)
    if verdict.allowed:
        return Decision(
            PolicyAction.DUNNO, "", ip, f"allowed by {verdict.allowed[0].network}", verdict
        )
    tempfail = next((f for f in verdict.failures if f.on_error == OnError.TEMPFAIL), None)
    if tempfail is not None:
        text = clean_text(
            f"4.7.1 Cannot check {ip} against list {tempfail.list_name} now "
            f"({tempfail.detail}); try again later"
        )
        return Decision(PolicyAction.DEFER_IF_PERMIT, text, ip, "list unavailable", verdict)
    return Decision(PolicyAction.DUNNO, "", ip, "not listed", verdict)


def reject_text(hit: Hit, lookup_url: str) -> str:
    """``5.7.1 <phrase>: <ip> is listed on <list> (<category>): <reason>; <url>``."""
    link = lookup_link(lookup_url, hit.ip)
    tail = f"; lookup and removal: {link}" if link else ""
    reason = f": {hit.reason}" if hit.reason else ""
    head = f"5.7.1 {hit.phrase}: client {hit.ip} is listed on {hit.list_name} ({hit.category})"
    room = MAX_REPLY_TEXT_CHARS - len(head) - len(tail)
    return clean_text(head + reason[: max(0, room)] + tail)


def clean_text(text: str) -> str:
    """One printable ASCII line: list reasons are admin-written free text."""
    return _UNPRINTABLE.sub("?", text)[:MAX_REPLY_TEXT_CHARS]
