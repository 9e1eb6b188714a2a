"""Rate limits: lookups per client in memory, removal submissions in the store.

Lookups are cheap and many, so a bounded in-memory window per process is
enough; submissions are counted in the database so that a fleet of web
processes shares one limit per client and per IP.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from oplguard.errors import OplguardError
from oplguard.removals.store import RemovalStore

HOUR_S = 3600.0
DAY_S = 86400.0
MINUTE_S = 60.0
# Clients remembered by the lookup limiter; the oldest are forgotten first.
# 100k entries cost ~15 MB and outlast any one-minute window of real traffic.
MAX_TRACKED_CLIENTS = 100_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused, and when to try again (the Retry-After header)."""

    reason: str
    retry_after_s: int


class WindowLimiter:
    """At most ``limit`` events per ``window_s`` per key (fixed windows), thread-safe."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        max_keys: int = MAX_TRACKED_CLIENTS,
        what: str = "lookups",
    ) -> None:
        self.limit = limit
        self.what = what
        self.window_s = window_s
        self.max_keys = max_keys
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, now: float) -> Refusal | None:
        """Count one event for ``key``; a Refusal when it is over the limit."""
        with self._lock:
            start, count = self._counts.pop(key, (now, 0))
            if now - start >= self.window_s:
                start, count = now, 0
            count += 1
            self._counts[key] = (start, count)
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
        if count <= self.limit:
            return None
        retry = max(1, int(start + self.window_s - now + 0.999))
        return Refusal(f"more than {self.limit} {self.what} in {int(self.window_s)} s", retry)

    def full(self, key: str, now: float) -> Refusal | None:
        """A Refusal when ``key`` has used up its window already; counts nothing."""
        with self._lock:
            start, count = self._counts.get(key, (now, 0))
        if now - start >= self.window_s or count < self.limit:
            return None
        retry = max(1, int(start + self.window_s - now + 0.999))
        return Refusal(f"{self.limit} {self.what} in {int(self.window_s)} s already", retry)


def check_submission(
    store: RemovalStore,
    *,
    client: str,
    ip: str,
    per_client_per_hour: int,
    per_ip_per_day: int,
    now: float,
) -> Refusal | None:
    """Refuse a removal submission over the per-client or per-IP limit."""
    if store.submissions_since(client=client, since=now - HOUR_S) >= per_client_per_hour:
        return Refusal(
            f"this client filed {per_client_per_hour} removal requests in the last hour",
            int(HOUR_S),
        )
    if store.submissions_since(ip=ip, since=now - DAY_S) >= per_ip_per_day:
        return Refusal(
            f"{ip} had {per_ip_per_day} removal requests in the last day; "
            "the pending one is being reviewed",
            int(DAY_S),
        )
    return None


class RateLimited(OplguardError):
    """A request over a limit; the web layer answers 429 with Retry-After."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.retry_after_s = refusal.retry_after_s
