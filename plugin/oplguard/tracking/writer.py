"""Batched tracking writes on their own thread, so scoring never waits for the database.

``submit`` only appends to a bounded queue.  The writer thread commits what
is queued every ``batch_interval_s`` (or as soon as ``batch_size`` records
wait), each batch in one transaction: after ``kill -9`` at most the records
queued since the last commit are lost, and the database holds whole batches
only.  ``close`` writes everything still queued.  A locked, full or
unreachable database is logged, counted and retried; scoring goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from oplguard.config import TrackingConfig
from oplguard.tracking.db import StoreError, safe_url
from oplguard.tracking.record import TrackRecord
from oplguard.tracking.store import TrackingStore

log = logging.getLogger("oplguard.tracking")

# A failing database is retried this often; its error is logged at most this often.
RETRY_INTERVAL_S = 5.0
ERROR_LOG_INTERVAL_S = 60.0
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
    queued: int = 0


class TrackingWriter:
    """Owns the queue and the thread that writes it to one database."""

    def __init__(self, url: str, settings: TrackingConfig, events: Events = _ignore) -> None:
        self.url = url
        self.settings = settings
        self.events = events
        self.queue: deque[TrackRecord] = deque()
        self.wake = threading.Condition()
        self.stopping = False
        self.store: TrackingStore | None = None
        self.stats = WriterStats()
        self.thread = threading.Thread(target=self._run, name="oplguard-tracking", daemon=True)
        self._next_prune = 0.0
        self._logged_at = 0.0

    def start(self) -> None:
        self.thread.start()

    def submit(self, record: TrackRecord) -> None:
        """Queue one record; never blocks.  A full queue drops the record and counts it."""
        with self.wake:
            if len(self.queue) >= self.settings.max_queue:
                self.stats.dropped += 1
                self.events("dropped", 1)
                return
            self.queue.append(record)
            if len(self.queue) >= self.settings.batch_size:
                self.wake.notify()

    def close(self, timeout_s: float) -> None:
        """Write what is queued, then stop the thread (graceful shutdown)."""
        with self.wake:
            self.stopping = True
            self.wake.notify()
        self.thread.join(timeout_s)
        if self.thread.is_alive():
            log.error(
                "tracking: writer still busy after %.0fs; %d records unwritten",
                timeout_s,
                len(self.queue),
            )

    def _run(self) -> None:
        while True:
            with self.wake:
                if not self.stopping and len(self.queue) < self.settings.batch_size:
                    self.wake.wait(self.settings.batch_interval_s)
                stopping = self.stopping
            ok = self._flush()
            if stopping:
                if not ok and self.queue:
                    log.error(
                        "tracking: %d records lost at shutdown: database unavailable",
                        len(self.queue),
                    )
                break
            if ok:
                self._prune_when_due()
            else:
                self._pause()
        if self.store is not None:
            self.store.close()

    def _pause(self) -> None:
        with self.wake:
            if not self.stopping:
                self.wake.wait(RETRY_INTERVAL_S)

    def _flush(self) -> bool:
        """Write every queued record, batch by batch; False if the database failed."""
        while True:
            with self.wake:
                batch = [
                    self.queue[i] for i in range(min(len(self.queue), self.settings.batch_size))
                ]
                self.stats.queued = len(self.queue)
            if not batch:
                return True
            try:
                self._open().insert(batch)
            except StoreError as err:
                self._failed(err, "write")
                return False
            except Exception as err:  # a bug must not end the writer thread silently
                log.exception("tracking: unexpected error while writing a batch")
                self._failed(StoreError(f"unexpected {type(err).__name__}: {err}"), "write")
                return False
            with self.wake:
                for _ in batch:
                    self.queue.popleft()
            self.stats.written += len(batch)
            self.events("written", len(batch))

    def _open(self) -> TrackingStore:
        if self.store is None:
            self.store = TrackingStore.open(self.url)
            log.warning("tracking: writing to %s", safe_url(self.url))
        return self.store

    def _failed(self, err: StoreError, kind: str) -> None:
        text = str(err)
        self.stats.errors += 1
        self.stats.last_error, self.stats.last_error_at = text, time.time()
        self.events(_error_kind(text, kind), 1)
        now = time.monotonic()
        if now - self._logged_at >= ERROR_LOG_INTERVAL_S or self._logged_at == 0.0:
            self._logged_at = now
            log.error(
                "tracking: %s failed, %d records queued, retrying every %.0fs "
                "(scoring continues): %s",
                kind,
                len(self.queue),
                RETRY_INTERVAL_S,
                text,
            )
        if self.store is not None and self.store.db.dialect == "postgresql":
            # A broken PostgreSQL connection does not heal: reconnect next time.
            self.store.close()
            self.store = None

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
