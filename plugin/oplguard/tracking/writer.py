"""Batched tracking writes on their own thread, so scoring never waits for the database.

``submit`` only appends to a bounded queue.  The writer thread commits what
is queued every ``batch_interval_s`` (or as soon as ``batch_size`` records
wait), each batch in one transaction under its own batch id: after ``kill -9``
at most the records queued since the last commit are lost, the database holds
whole batches only, and a batch retried after a lost COMMIT acknowledgement is
recognised and not written twice.  ``close`` writes everything still queued.
A locked, full or unreachable database is logged once per outage, counted and
retried with backoff and jitter; scoring goes on.
"""

from __future__ import annotations

import itertools
import logging
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oplguard.config.model import TrackingConfig
from oplguard.storage.db import StoreError, safe_url
from oplguard.tracking.record import TrackRecord
from oplguard.tracking.store import Batch, TrackingStore, batch_rows

log = logging.getLogger("oplguard.tracking")

# A failing database is retried after RETRY_MIN_S, then twice as long each time up to
# RETRY_MAX_S, each wait shortened by a random part of up to RETRY_JITTER (a fleet whose
# database restarts does not come back in lockstep).
RETRY_MIN_S = 1.0
RETRY_MAX_S = 30.0
RETRY_JITTER = 0.5
# Retention runs this often (and once at start).
PRUNE_INTERVAL_S = 300.0
DAY_S = 86400.0

Events = Callable[[str, int], None]


def _ignore(kind: str, count: int) -> None:
    return None


@dataclass(slots=True)
class WriterStats:
    """What ``oplguard status`` shows about tracking."""

    written: int = 0
    dropped: int = 0
    errors: int = 0
    last_error: str = ""
    last_error_at: float = 0.0
    pruned: int = 0
    # "starting" (nothing written yet), "ok", or "failing" (since failing_since).
    state: str = "starting"
    failing_since: float = 0.0
    next_retry_at: float = 0.0
    # Batches found already committed when retried (a lost COMMIT acknowledgement).
    replayed: int = 0


def retry_delay(failures: int, rng: random.Random) -> float:
    """Seconds before attempt ``failures + 1``: exponential, capped, with jitter."""
    base: float = min(RETRY_MAX_S, RETRY_MIN_S * 2.0 ** min(failures - 1, 30))
    return base * (1.0 - RETRY_JITTER * rng.random())


class TrackingWriter:
    """Owns the queue and the thread that writes it to one database."""

    def __init__(self, url: str, settings: TrackingConfig, events: Events = _ignore) -> None:
        self.url = url
        self.settings = settings
        self.events = events
        self.queue: deque[TrackRecord] = deque()
        self.wake = threading.Condition()
        self.stopped = threading.Event()
        self.stopping = False
        self.store: TrackingStore | None = None
        self.stats = WriterStats()
        self.thread = threading.Thread(target=self._run, name="oplguard-tracking", daemon=True)
        # Batch ids: this writer's random prefix and a counter, so ids never repeat
        # across processes and hosts and are appended in order to the indexes.
        self._prefix = secrets.token_hex(6)
        self._serial = itertools.count(1)
        self._pending: Batch | None = None
        self._pending_count = 0
        self._failures = 0
        self._dropped_seen = 0
        self._outage_dropped = 0
        self._next_prune = 0.0
        self._rng = random.Random()

    def start(self) -> None:
        self.thread.start()

    def submit(self, record: TrackRecord) -> None:
        """Queue one record; never blocks.  A full queue drops the record and counts it.

        Called from the event loop only (one thread): ``deque.append`` needs no lock, and
        the writer is woken once, when a batch is complete.
        """
        queue = self.queue
        if len(queue) >= self.settings.max_queue:
            self.stats.dropped += 1
            return
        queue.append(record)
        if len(queue) == self.settings.batch_size:
            with self.wake:
                self.wake.notify()

    def close(self, timeout_s: float) -> None:
        """Write what is queued, then stop the thread (graceful shutdown)."""
        with self.wake:
            self.stopping = True
            self.stopped.set()
            self.wake.notify()
        self.thread.join(timeout_s)
        if self.thread.is_alive():
            log.error(
                "tracking: writer still busy after %.0fs; %d records unwritten",
                timeout_s,
                len(self.queue),
            )

    def status(self) -> dict[str, Any]:
        """The ``tracking`` part of ``oplguard status``."""
        s = self.stats
        return {
            "state": s.state,
            "written": s.written,
            "queued": len(self.queue),
            "dropped": s.dropped,
            "errors": s.errors,
            "last_error": s.last_error,
            "last_error_at": s.last_error_at,
            "failing_since": s.failing_since,
            "next_retry_at": s.next_retry_at,
            "replayed": s.replayed,
            "pruned": s.pruned,
        }

    def _run(self) -> None:
        while True:
            with self.wake:
                if not self.stopping and len(self.queue) < self.settings.batch_size:
                    self.wake.wait(self.settings.batch_interval_s)
                stopping = self.stopping
            ok = self._flush()
            self._count_drops()
            if stopping:
                if not ok and self.queue:
                    log.error(
                        "tracking: %d records lost at shutdown: database unavailable (%s)",
                        len(self.queue),
                        self.stats.last_error,
                    )
                break
            if ok:
                self._prune_when_due()
            else:
                self._pause()
        if self.store is not None:
            self.store.close()

    def _pause(self) -> None:
        """Wait out the backoff; only ``close`` ends it early (new records do not)."""
        delay = retry_delay(self._failures, self._rng)
        self.stats.next_retry_at = time.time() + delay
        self.stopped.wait(delay)

    def _flush(self) -> bool:
        """Write every queued record, batch by batch; False if the database failed."""
        while True:
            if self._pending is None:
                count = min(len(self.queue), self.settings.batch_size)
                if not count:
                    return True
                batch_id = f"{self._prefix}{next(self._serial):08x}"
                records = list(itertools.islice(self.queue, count))
                self._pending, self._pending_count = batch_rows(batch_id, records), count
            try:
                fresh = self._open().write(self._pending)
            except StoreError as err:
                self._failed(err)
                return False
            except Exception as err:  # a bug must not end the writer thread silently
                if not self._failures:
                    log.exception("tracking: unexpected error while writing a batch")
                self._failed(StoreError(f"unexpected {type(err).__name__}: {err}"))
                return False
            self._committed(fresh)

    def _committed(self, fresh: bool) -> None:
        count = self._pending_count
        for _ in range(count):
            self.queue.popleft()
        self._pending = None
        if not fresh:
            self.stats.replayed += 1
            log.warning("tracking: a retried batch of %d records was committed before", count)
        self.stats.written += count
        self.events("written", count)
        if self._failures:
            log.warning(
                "tracking: database back after %.0fs and %d failed attempts; "
                "%d records dropped while it was unavailable; writing the queue",
                time.time() - self.stats.failing_since,
                self._failures,
                self._outage_dropped,
            )
        if self._failures or not self.queue:
            self._outage_dropped = 0
        self._failures = 0
        self.stats.state, self.stats.failing_since, self.stats.next_retry_at = "ok", 0.0, 0.0

    def _open(self) -> TrackingStore:
        if self.store is None:
            self.store = TrackingStore.open(self.url)
            log.warning("tracking: writing to %s", safe_url(self.url))
        return self.store

    def _failed(self, err: StoreError, kind: str = "write") -> None:
        """Count the error; the first of an outage is logged, the retries only at debug."""
        text = str(err)
        now = time.time()
        self.stats.errors += 1
        self.stats.last_error, self.stats.last_error_at = text, now
        self.events(_error_kind(text, kind), 1)
        if kind == "write":
            self._failures += 1
            if self._failures == 1:
                self.stats.state, self.stats.failing_since = "failing", now
                log.error(
                    "tracking: database unavailable, %d records queued (up to %d are kept); "
                    "retrying with backoff up to %.0fs, scoring continues: %s",
                    len(self.queue),
                    self.settings.max_queue,
                    RETRY_MAX_S,
                    text,
                )
            else:
                log.debug("tracking: attempt %d failed: %s", self._failures, text)
        else:
            log.error("tracking: %s failed (scoring continues): %s", kind, text)
        if self.store is not None and self.store.db.dialect == "postgresql":
            # A broken PostgreSQL connection does not heal: reconnect next time.
            self.store.close()
            self.store = None

    def _count_drops(self) -> None:
        """Records dropped since the last look: counted, and logged once per outage."""
        dropped = self.stats.dropped - self._dropped_seen
        if not dropped:
            return
        self._dropped_seen += dropped
        self.events("dropped", dropped)
        if not self._outage_dropped:
            log.error(
                "tracking: queue full (%d records): dropping new records until the "
                "database catches up (%d so far)",
                self.settings.max_queue,
                dropped,
            )
        self._outage_dropped += dropped

    def _prune_when_due(self) -> None:
        now = time.time()
        if now < self._next_prune or self.store is None:
            return
        self._next_prune = now + PRUNE_INTERVAL_S
        days = self.settings.max_age_days
        try:
            removed = self.store.prune(
                now - days * DAY_S if days else 0.0, self.settings.max_records
            )
        except StoreError as err:
            self._failed(err, "retention")
            return
        if removed:
            self.stats.pruned += removed
            log.info("tracking: retention removed %d records", removed)


def _error_kind(text: str, default: str) -> str:
    """A short label for metrics: locked, full, unreachable, or the operation."""
    lowered = text.lower()
    for kind, words in (
        ("locked", ("locked", "busy")),
        ("full", ("full", "no space")),
        ("unreachable", ("connect", "connection", "server closed")),
    ):
        if any(word in lowered for word in words):
            return kind
    return default
