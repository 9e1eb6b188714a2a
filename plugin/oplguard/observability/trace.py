"""Targeted tracing: full debug detail only for messages that touch one IP or sender.

While a trace runs the component loggers are held at DEBUG (see ``levels``).
Each connection buffers the records its configured level would not show; when
its message is scanned the buffer is written out if the message matches a
trace, and dropped if not.  ``TraceGate`` is the handler filter that does the
dropping, so nothing from unrelated messages reaches the log.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from oplguard.ipaddr import canonical_address
from oplguard.observability.levels import Cancellable, LevelControl, Schedule, iso

log = logging.getLogger("oplguard.server")

# Records kept per connection while a trace runs; a message past this loses the oldest.
MAX_BUFFERED_RECORDS = 2000
# Set on records written out by a matching trace: the trace's IP or sender.
TRACE_ATTR = "oplguard_trace"
_BUFFER: contextvars.ContextVar[list[logging.LogRecord] | None] = contextvars.ContextVar(
    "oplguard_trace_buffer", default=None
)


@dataclass(slots=True)
class Trace:
    """One active trace: an IP (any hop), optionally narrowed to a sender."""

    ip: str
    sender: str
    until: datetime
    handle: Cancellable

    def matches(self, ips: set[str], senders: set[str]) -> bool:
        if self.ip and self.ip not in ips:
            return False
        return not self.sender or _sender_matches(self.sender, senders)

    def as_dict(self) -> dict[str, str]:
        return {"ip": self.ip, "sender": self.sender, "until": iso(self.until)}


def _sender_matches(wanted: str, senders: set[str]) -> bool:
    """``user@example.org`` exactly, or ``@example.org`` for a whole domain."""
    wanted = wanted.lower()
    if wanted.startswith("@"):
        return any(s.endswith(wanted) for s in senders)
    return wanted in senders


class Tracer:
    """The active traces, and the capture and flush of per-message debug records."""

    def __init__(self, levels: LevelControl, schedule: Schedule) -> None:
        self.levels = levels
        self.schedule = schedule
        self.traces: list[Trace] = []

    @property
    def active(self) -> bool:
        return bool(self.traces)

    def start(self, ip: str, sender: str, for_s: float) -> dict[str, object]:
        """Trace messages touching ``ip`` (and from ``sender``) for ``for_s`` seconds.

        Raises:
            ValueError: neither an IP nor a sender, or a bad IP.
        """
        ip, sender = _target(ip, sender)
        for old in self._matching(ip, sender):  # a new trace of the same target replaces it
            old.handle.cancel()
            self.traces.remove(old)
            log.warning("trace replaced ip=%s sender=%s", ip or "-", sender or "-")
        until = datetime.now(UTC) + timedelta(seconds=for_s)
        trace = Trace(ip, sender, until, handle=_NoHandle())
        trace.handle = self.schedule(for_s, lambda: self._stop(trace))
        self.traces.append(trace)
        self.levels.hold_debug(True)
        log.warning("trace started ip=%s sender=%s until=%s", ip or "-", sender or "-", iso(until))
        return {"trace": trace.as_dict(), "traces": self.list()}

    def stop(self, ip: str, sender: str) -> dict[str, object]:
        """Stop the trace of exactly this IP and sender now (``oplguard trace --stop``).

        Raises:
            ValueError: no such trace runs (the message lists those that do).
        """
        ip, sender = _target(ip, sender)
        found = self._matching(ip, sender)
        if not found:
            running = ", ".join(f"ip={t.ip or '-'} sender={t.sender or '-'}" for t in self.traces)
            raise ValueError(
                f"no trace of ip={ip or '-'} sender={sender or '-'} runs "
                f"(running: {running or 'none'})"
            )
        for trace in found:
            trace.handle.cancel()
            self._stop(trace)
        return {"stopped": [t.as_dict() for t in found], "traces": self.list()}

    def _matching(self, ip: str, sender: str) -> list[Trace]:
        return [t for t in self.traces if (t.ip, t.sender) == (ip, sender)]

    def _stop(self, trace: Trace) -> None:
        if trace in self.traces:
            self.traces.remove(trace)
        if not self.traces:
            self.levels.hold_debug(False)
        log.warning("trace ended ip=%s sender=%s", trace.ip or "-", trace.sender or "-")

    def stop_all(self) -> None:
        for trace in list(self.traces):
            trace.handle.cancel()
            self._stop(trace)

    def list(self) -> list[dict[str, str]]:
        return [t.as_dict() for t in self.traces]

    def capture(self) -> contextlib.AbstractContextManager[None]:
        """Buffer this task's sub-level records (a shared no-op when nothing is traced:
        one per connection, so no generator-based context manager is made for it)."""
        return _Capture() if self.traces else _NO_CAPTURE

    def finish(self, ips: set[str], senders: set[str]) -> None:
        """A message was scanned: write its buffered records if it matches a trace."""
        buffer = _BUFFER.get()
        if buffer is None:
            return
        records, buffer[:] = list(buffer), []
        matched = next((t for t in self.traces if t.matches(ips, senders)), None)
        if matched is None:
            return
        for record in records:
            setattr(record, TRACE_ATTR, matched.ip or matched.sender)
            logging.getLogger(record.name).handle(record)


def _target(ip: str, sender: str) -> tuple[str, str]:
    """The canonical (ip, sender) of a trace request.

    Raises:
        ValueError: neither, or a bad IP.
    """
    if not ip and not sender:
        raise ValueError("trace needs --ip or --sender")
    return (canonical_address(ip) if ip else "", sender.strip().lower())


class _Capture:
    """Gives the task a fresh record buffer, and takes it away again."""

    __slots__ = ("token",)

    def __enter__(self) -> None:
        self.token = _BUFFER.set([])

    def __exit__(self, *exc: object) -> None:
        _BUFFER.reset(self.token)


_NO_CAPTURE = contextlib.nullcontext()


class _NoHandle:
    def cancel(self) -> None:
        return None


class TraceGate(logging.Filter):
    """Handler filter: a record below its component's configured level passes only as traced."""

    def __init__(self, tracer: Tracer) -> None:
        super().__init__()
        self.tracer = tracer

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.tracer.active or hasattr(record, TRACE_ATTR):
            return True
        configured = self.tracer.levels.configured(record.name)
        if configured is None or record.levelno >= configured:
            return True
        buffer = _BUFFER.get()
        # With several handlers each gate sees the record: buffer it once.
        if buffer is not None and not (buffer and buffer[-1] is record):
            if len(buffer) >= MAX_BUFFERED_RECORDS:
                del buffer[0]
            buffer.append(record)
        return False
