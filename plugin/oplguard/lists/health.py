"""List health and the circuit breaker of DNS lists: unreachable, monitor-only, healthy.

Two different faults, two states.  A list whose server does not answer
(timeouts, network errors) is *unreachable*: after UNANSWERED_TO_TRIP
queries in a row get no answer it is no longer queried, each lookup is
answered at once as an error (the list's ``on_error`` policy applies), and
a probe every FAST_PROBE_INTERVAL_S closes the breaker on the first answer.
A list that answers *wrongly* (RFC 5782 test entries: 127.0.0.2 must be
listed, 127.0.0.1 must not) or whose hit rate jumps far above its own
baseline (a dead zone that "lists the world") is *monitor-only*: still
queried, hits reported but scoring 0, its errors neither score nor defer.
Pure state; the server runs the probes (``lists.dnsbl.probe_due``).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

log = logging.getLogger("oplguard.lists")

# RFC 5782 §5: 127.0.0.2 is always listed, 127.0.0.1 never.
PROBE_LISTED, PROBE_CLEAN = "127.0.0.2", "127.0.0.1"
# Hit-rate breaker: the last WINDOW answers against a slow-moving baseline.
HIT_WINDOW = 200
MIN_ANSWERS = 50
# Trip when the window's hit rate is this many times the baseline and above
# TRIP_FLOOR (a list listing > 60% of relays is broken whatever its baseline).
TRIP_FACTOR = 5.0
TRIP_FLOOR = 0.6
BASELINE_WEIGHT = 0.001
# The baseline follows only windows near it (slow drift), never a jump.
LEARN_FACTOR = 2.0
LEARN_SLACK = 0.05
DEFAULT_BASELINE = 0.05
# Two wrong probe answers in a row (a few seconds apart) switch to monitor-only.
FAILED_PROBES_TO_TRIP = 2
# Queries in a row without an answer (timeout, network error, cut by the
# per-message budget) before the list counts as unreachable: one lost UDP
# packet is not an outage, three in a row are.
UNANSWERED_TO_TRIP = 3
# A list that is unreachable, monitor-only or suspect is probed this often
# (instead of [server] list_probe_interval_s), so it comes back within seconds.
FAST_PROBE_INTERVAL_S = 2.0


class HealthState(StrEnum):
    """Where a DNS list stands: answering, answering but not trusted to score (its hits are
    shown, not counted), or not answering (``on_error`` answers for it)."""

    HEALTHY = "healthy"
    MONITOR_ONLY = "monitor-only"
    UNREACHABLE = "unreachable"


@dataclass
class ListHealth:
    """Health of one list, updated by probes and by every answer."""

    name: str
    state: HealthState = HealthState.HEALTHY
    reason: str = ""
    since: float = 0.0  # wall time of the last state change, 0 = never changed
    baseline: float = DEFAULT_BASELINE
    window: deque[bool] = field(default_factory=lambda: deque(maxlen=HIT_WINDOW))
    failed_probes: int = 0
    errors: int = 0
    answers: int = 0
    unanswered: int = 0  # queries in a row without an answer
    skipped: int = 0  # lookups answered by the open breaker without a query
    next_probe: float = 0.0  # time.monotonic() of the next probe
    monitor_reason: str = ""  # why it was monitor-only before it became unreachable

    @property
    def hit_rate(self) -> float:
        return sum(self.window) / len(self.window) if self.window else 0.0

    @property
    def is_unreachable(self) -> bool:
        """The breaker is open: lookups are answered at once, without a query."""
        return self.state == HealthState.UNREACHABLE

    @property
    def is_suspect(self) -> bool:
        """Probe soon: not healthy, or the last probe or queries went wrong."""
        return self.state != HealthState.HEALTHY or self.failed_probes > 0 or self.unanswered > 0

    def record(self, listed: bool) -> None:
        """One answer for a relay IP (errors are counted apart)."""
        self.answers += 1
        self.window.append(listed)
        # The baseline learns only from normal windows, so a jump cannot drag it up.
        if (
            self.state == HealthState.HEALTHY
            and self.hit_rate <= LEARN_FACTOR * self.baseline + LEARN_SLACK
        ):
            self.baseline += BASELINE_WEIGHT * (float(listed) - self.baseline)
        if len(self.window) < MIN_ANSWERS:
            return
        rate = self.hit_rate
        if (
            self.state == HealthState.HEALTHY
            and rate >= TRIP_FLOOR
            and rate >= TRIP_FACTOR * self.baseline
        ):
            self.trip(
                HealthState.MONITOR_ONLY,
                f"hit rate {rate:.0%} is far above its baseline {self.baseline:.0%}",
            )
        elif (
            self.state == HealthState.MONITOR_ONLY
            and self.reason.startswith("hit rate")
            and rate < TRIP_FLOOR / 2
        ):
            self.recover(f"hit rate back to {rate:.0%}")

    def record_error(self) -> None:
        self.errors += 1

    def note_answered(self) -> None:
        """The server answered a query (right or wrong): it is reachable.

        A list that was monitor-only before the outage is monitor-only again
        (its answers were wrong; an outage does not make them right).
        """
        self.unanswered = 0
        if self.state != HealthState.UNREACHABLE:
            return
        if self.monitor_reason:
            reason, self.monitor_reason = self.monitor_reason, ""
            # It recovers as before: by probe or by hit rate.
            self.trip(HealthState.MONITOR_ONLY, reason)
        else:
            self.recover("its DNS server answers again")

    def note_unanswered(self, detail: str) -> None:
        """A query got no answer; the last of UNANSWERED_TO_TRIP in a row opens the breaker."""
        self.unanswered += 1
        if self.unanswered >= UNANSWERED_TO_TRIP and self.state != HealthState.UNREACHABLE:
            self.monitor_reason = self.reason if self.state == HealthState.MONITOR_ONLY else ""
            self.trip(
                HealthState.UNREACHABLE,
                f"no answer to {self.unanswered} queries in a row (last: {detail})",
            )

    def note_skipped(self) -> str:
        """One lookup answered by the open breaker; the error detail to report."""
        self.skipped += 1
        return f"not queried, list unreachable since {_clock(self.since)}: {self.reason}"

    def probe(self, listed_ok: bool, clean_ok: bool, unanswered: bool = False) -> None:
        """Result of one probe of the RFC 5782 test entries.

        Args:
            listed_ok: 127.0.0.2 was answered as listed.
            clean_ok: 127.0.0.1 was answered as not listed.
            unanswered: a probe query got no answer: that says the server is
                unreachable (``note_unanswered`` counted it), not that it is wrong.
        """
        if unanswered:
            return
        if listed_ok and clean_ok:
            self.failed_probes = 0
            if self.state == HealthState.MONITOR_ONLY and self.reason.startswith("probe"):
                self.recover("test entries answer correctly again")
            return
        self.failed_probes += 1
        wrong = [] if listed_ok else [f"{PROBE_LISTED} not listed"]
        wrong += [] if clean_ok else [f"{PROBE_CLEAN} listed"]
        if self.failed_probes >= FAILED_PROBES_TO_TRIP and self.state == HealthState.HEALTHY:
            self.trip(HealthState.MONITOR_ONLY, f"probe answered wrongly: {', '.join(wrong)}")

    def probe_delay(self, interval_s: float) -> float:
        """Seconds until the next probe: the configured interval, or soon when suspect."""
        return min(interval_s, FAST_PROBE_INTERVAL_S) if self.is_suspect else interval_s

    def trip(self, state: HealthState, reason: str) -> None:
        self.state, self.reason, self.since = state, reason, time.time()
        self.window.clear()
        self.next_probe = time.monotonic() + FAST_PROBE_INTERVAL_S
        if state == HealthState.UNREACHABLE:
            log.warning(
                "list %s is unreachable (lookups answered at once by its on_error policy, "
                "probed every %gs): %s",
                self.name,
                FAST_PROBE_INTERVAL_S,
                reason,
            )
        else:
            log.warning(
                "list %s switched to monitor-only (scores 0, still reported): %s", self.name, reason
            )

    def recover(self, reason: str) -> None:
        was = self.state
        self.state, self.reason, self.since = HealthState.HEALTHY, "", time.time()
        self.window.clear()
        self.failed_probes = 0
        self.unanswered = 0
        log.warning("list %s is healthy again (was %s): %s", self.name, was, reason)

    def as_dict(self) -> dict[str, object]:
        return {
            "list": self.name,
            "state": self.state,
            "reason": self.reason,
            "since": _clock(self.since) if self.since else None,
            "hit_rate": round(self.hit_rate, 4),
            "baseline": round(self.baseline, 4),
            "answers": self.answers,
            "errors": self.errors,
            "unanswered_in_a_row": self.unanswered,
            "skipped": self.skipped,
        }


def _clock(when: float) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` of a ``time.time()`` value."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
