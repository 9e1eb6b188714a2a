"""Progress of long command-line work on a terminal: done, rate, time left, on stderr.

Only when stderr is a terminal (``Progress.for_terminal``): a log file, a pipe
or a service journal never gets the carriage-return lines.  One line per task,
redrawn at most every ``REFRESH_S``; when the task ends it is replaced by a
summary line.  Pure bookkeeping apart from the writes; the clock is injectable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

# Redraw at most this often: fast enough to look alive, cheap for a tight loop.
REFRESH_S = 0.2
# ANSI "erase to end of line": a shorter line leaves no tail of the longer one.
ERASE_LINE = "\x1b[K"
# A loop over items reports every this many (a clock read per item would cost more than the item).
COUNT_EVERY = 4096
T = TypeVar("T")
UNITS = {"B": ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"), (1, "B"))}


def amount(value: float, unit: str) -> str:
    """``value`` for people: bytes in KiB/MiB/GiB, anything else with thousands separators."""
    for size, name in UNITS.get(unit, ()):
        if value >= size or size == 1:
            return f"{value / size:.1f} {name}" if size > 1 else f"{value:.0f} B"
    return f"{value:,.0f} {unit}".rstrip()


def duration(seconds: float) -> str:
    """``4 s``, ``2 min 05 s``, ``1 h 03 min``."""
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


class Task:
    """One job of known size: ``advance_to(done)`` as it goes, ``close(summary)`` at the end."""

    def __init__(
        self, out: TextIO, label: str, total: float, unit: str, clock: Callable[[], float]
    ) -> None:
        self.out, self.label, self.total, self.unit, self.clock = out, label, total, unit, clock
        self.started = clock()
        self.drawn_at: float | None = None
        self.done = 0.0

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started

    def advance_to(self, done: float) -> None:
        """Record progress; redraw when REFRESH_S has passed since the last drawing."""
        self.done = done
        now = self.clock()
        if self.drawn_at is not None and now - self.drawn_at < REFRESH_S:
            return
        self.drawn_at = now
        self.out.write(f"\r{self.line(now)}{ERASE_LINE}")
        self.out.flush()

    def line(self, now: float) -> str:
        """``loading opl: 45.0 MiB / 194.0 MiB (23%), 12.3 MiB/s, 12 s left``."""
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label}: {amount(self.done, self.unit)} / {amount(self.total, self.unit)}"
        if self.total > 0:
            text += f" ({min(self.done / self.total, 1.0):.0%})"
        text += f", {amount(rate, self.unit)}/s"
        if rate > 0 and self.total > self.done:
            text += f", {duration((self.total - self.done) / rate)} left"
        return text

    def close(self, summary: str) -> None:
        """Replace the progress line by ``summary``."""
        self.out.write(f"\r{summary}{ERASE_LINE}\n")
        self.out.flush()


class Progress:
    """Makes Tasks that draw on one terminal stream."""

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.clock = clock

    @classmethod
    def for_terminal(cls, out: TextIO | None = None) -> Progress | None:
        """A Progress on ``out`` (stderr) if it is a terminal, else None: quiet."""
        stream = sys.stderr if out is None else out
        try:
            is_terminal = stream.isatty()
        except (AttributeError, ValueError):  # a closed or fake stream
            return None
        return cls(stream) if is_terminal else None

    def task(self, label: str, total: float, unit: str = "") -> Task:
        return Task(self.out, label, total, unit, self.clock)


def counted(
    items: Iterable[T], progress: Progress | None, label: str, total: int, unit: str
) -> Iterator[T]:
    """``items`` unchanged, counted on a progress line; ``label done: N unit in S s`` at the end."""
    if progress is None:
        yield from items
        return
    task, done = progress.task(label, total, unit), 0
    for done, item in enumerate(items, start=1):
        if done % COUNT_EVERY == 0:
            task.advance_to(done)
        yield item
    task.close(f"{label}: {done:,} {unit} in {task.elapsed_s:.1f} s")
