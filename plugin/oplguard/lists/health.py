"""List health and the circuit breaker: a broken list is switched to monitor-only.

A DNS list is unhealthy when its RFC 5782 test entries answer wrongly
(127.0.0.2 must be listed, 127.0.0.1 must not) or when its hit rate jumps far
above its own baseline (a dead zone that "lists the world").  Monitor-only
lists still report hits but score 0; they switch back once healthy again.
Pure state; the server runs the probes.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

log = logging.getLogger("oplguard.lists")

HEALTHY, MONITOR_ONLY = "healthy", "monitor-only"
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
FAILED_PROBES_TO_TRIP = 2


@dataclass
class ListHealth:
    """Health of one list, updated by probes and by every answer."""

    name: str
    state: str = HEALTHY
    reason: str = ""
    baseline: float = DEFAULT_BASELINE
    window: deque[bool] = field(default_factory=lambda: deque(maxlen=HIT_WINDOW))
    failed_probes: int = 0
    errors: int = 0
    answers: int = 0

    @property
    def hit_rate(self) -> float:
        return sum(self.window) / len(self.window) if self.window else 0.0

    def record(self, listed: bool) -> None:
        """One answer for a relay IP (errors are counted apart)."""
        self.answers += 1
        self.window.append(listed)
        # The baseline learns only from normal windows, so a jump cannot drag it up.
        if self.state == HEALTHY and self.hit_rate <= LEARN_FACTOR * self.baseline + LEARN_SLACK:
            self.baseline += BASELINE_WEIGHT * (float(listed) - self.baseline)
        if len(self.window) < MIN_ANSWERS:
            return
        rate = self.hit_rate
        if self.state == HEALTHY and rate >= TRIP_FLOOR and rate >= TRIP_FACTOR * self.baseline:
            self.trip(f"hit rate {rate:.0%} is far above its baseline {self.baseline:.0%}")
        elif (
            self.state == MONITOR_ONLY
            and self.reason.startswith("hit rate")
            and rate < TRIP_FLOOR / 2
        ):
            self.recover(f"hit rate back to {rate:.0%}")

    def record_error(self) -> None:
        self.errors += 1

    def probe(self, listed_ok: bool, clean_ok: bool) -> None:
        """Result of one probe of the RFC 5782 test entries."""
        if listed_ok and clean_ok:
            self.failed_probes = 0
            if self.state == MONITOR_ONLY and self.reason.startswith("probe"):
                self.recover("test entries answer correctly again")
            return
        self.failed_probes += 1
        wrong = [] if listed_ok else [f"{PROBE_LISTED} not listed"]
        wrong += [] if clean_ok else [f"{PROBE_CLEAN} listed"]
        if self.failed_probes >= FAILED_PROBES_TO_TRIP and self.state == HEALTHY:
            self.trip(f"probe failed: {', '.join(wrong)}")

    def trip(self, reason: str) -> None:
        self.state, self.reason = MONITOR_ONLY, reason
        self.window.clear()
        log.warning(
            "list %s switched to monitor-only (scores 0, still reported): %s", self.name, reason
        )

    def recover(self, reason: str) -> None:
        self.state, self.reason = HEALTHY, ""
        self.window.clear()
        self.failed_probes = 0
        log.warning("list %s is healthy again: %s", self.name, reason)

    def as_dict(self) -> dict[str, object]:
        return {
            "list": self.name,
            "state": self.state,
            "reason": self.reason,
            "hit_rate": round(self.hit_rate, 4),
            "baseline": round(self.baseline, 4),
            "answers": self.answers,
            "errors": self.errors,
        }
