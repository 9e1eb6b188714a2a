"""PolicyService: one policy request in, a Decision out; no sockets here.

The client IP is looked up in the list files, the Blocked Senders and the DNS
lists of ``reject`` groups (with the scanner's per-message deadline), then
judged by ``decision.decide``.  The scanner is swapped whole on reload.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from oplguard.lists.dnsbl import AnswerStatus, DnsblAnswer, query_all
from oplguard.lists.health import HealthState
from oplguard.mail.relays import trusts_client
from oplguard.policy.engine import ListHitLike
from oplguard.policy.scanner import Scanner, local_hit, lookup_failure
from oplguard.policy.verdict import LookupFailure
from oplguard.policyd.decision import (
    Decision,
    PolicyAction,
    client_chain,
    client_ip,
    decide,
    reject_lists,
)
from oplguard.policyd.protocol import PolicyRequest

log = logging.getLogger("oplguard.policyd")

# Postfix attribute values end up in our log lines; keep them short.
MAX_LOGGED_CHARS = 120


class PolicyService:
    """Answers policy requests with the current scanner's lists and groups."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner

    async def answer(self, request: PolicyRequest) -> Decision:
        """The decision for the request's ``client_address``; never raises on input."""
        started = time.perf_counter()
        raw = request.get("client_address")
        ip = client_ip(raw)
        if ip is None:
            decision = Decision(PolicyAction.DUNNO, ip=raw, why="no public client address to check")
        elif trusts_client(self.scanner.trust, ip):
            # As the scoring service: a trusted relay is never checked (mail/relays.py).
            decision = Decision(PolicyAction.DUNNO, ip=ip, why="trusted relay (trusted_networks)")
        else:
            decision = await self._check(ip, request.get("client_name"))
        self._log(request, decision, time.perf_counter() - started)
        return decision

    async def _check(self, ip: str, name: str) -> Decision:
        scanner = self.scanner
        now = datetime.now(UTC)
        wanted = reject_lists(scanner.policy)
        sources = [s for s in scanner.dns_sources if s.config.name in wanted]
        answers = await query_all(sources, [ip], scanner.dns_budget_s)
        failures = self._record(answers, ip)
        snapshot = scanner.lists.snapshot
        dns_hits = [
            local_hit(name_, answer.category, ip, _dns_reason(scanner, name_, answer))
            for (name_, _), answer in answers.items()
            if answer.status == AnswerStatus.LISTED
        ]

        def lookup(address: str) -> Sequence[ListHitLike]:
            return [*scanner.lookup(address, snapshot, now), *dns_hits]

        monitor = frozenset(
            n for n, h in scanner.health.items() if h.state == HealthState.MONITOR_ONLY
        )
        chain = client_chain(ip, name)
        url = scanner.config.scoring.lookup_url
        return decide(chain, lookup, scanner.policy, now, failures, url, monitor)

    def _record(
        self, answers: dict[tuple[str, str], DnsblAnswer], ip: str
    ) -> tuple[LookupFailure, ...]:
        """Feed the circuit breaker, and turn DNS errors into lookup failures."""
        scanner = self.scanner
        failures = []
        for (name, _), answer in answers.items():
            health = scanner.health[name]
            if answer.status != AnswerStatus.ERROR:
                health.record(answer.status == AnswerStatus.LISTED)
                continue
            health.record_error()
            failures.append(lookup_failure(scanner.dns_configs[name], health, ip, 1, answer))
        return tuple(failures)

    def _log(self, request: PolicyRequest, decision: Decision, elapsed_s: float) -> None:
        hit = decision.verdict.offending if decision.verdict else None
        log.info(
            "policy client=%s name=%s state=%s queue_id=%s action=%s why=%s list=%s "
            "elapsed_ms=%.2f",
            decision.ip[:MAX_LOGGED_CHARS] or "-",
            request.get("client_name", "-")[:MAX_LOGGED_CHARS],
            request.get("protocol_state", "-")[:MAX_LOGGED_CHARS],
            request.get("queue_id")[:MAX_LOGGED_CHARS] or "-",
            decision.action,
            decision.why,
            hit.list_name if hit else "-",
            elapsed_s * 1000,
        )


def _dns_reason(scanner: Scanner, name: str, answer: DnsblAnswer) -> str:
    zone = scanner.dns_configs[name].zone
    return f"listed in DNS zone {zone} ({','.join(answer.codes)})"
