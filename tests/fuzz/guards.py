"""A hang detector for parser tests: not a speed test, a "does it finish at all"."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

# Catastrophic backtracking takes minutes to hours on the hostile shapes these
# tests feed; a linear parser takes milliseconds.  The bound is deliberately
# far from either so that a loaded CI machine never trips it.
HANG_LIMIT_S = 30


@contextmanager
def no_hang(seconds: int = HANG_LIMIT_S) -> Iterator[None]:
    """Fail the test if the block is still running after ``seconds``."""

    def alarm(*_: object) -> None:
        raise AssertionError(f"still running after {seconds} s: catastrophic backtracking?")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
