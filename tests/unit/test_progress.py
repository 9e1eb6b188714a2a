"""Progress lines: what they say, how often they redraw, and silence off a terminal."""

from __future__ import annotations

import io

import pytest

from oplguard.progress import REFRESH_S, Progress, amount, counted, duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(512, "B", "512 B"), (1536, "B", "1.5 KiB"), (194 * 2**20, "B", "194.0 MiB"),
     (3 * 2**30, "B", "3.0 GiB"), (1234567, "entries", "1,234,567 entries"), (0, "B", "0 B"),
     (7, "", "7")],
)  # fmt: skip
def test_amounts(value: float, unit: str, text: str) -> None:
    assert amount(value, unit) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.2, "0 s"), (59.4, "59 s"), (125, "2 min 05 s"), (3780, "1 h 03 min")]
)
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_line_has_done_rate_and_time_left_and_redraws_at_most_every_refresh() -> None:
    clock, out = Clock(), Terminal()
    task = Progress(out, clock).task("loading opl", 100 * 2**20, "B")
    clock.now += 2.0
    task.advance_to(20 * 2**20)
    assert out.getvalue() == (
        "\rloading opl: 20.0 MiB / 100.0 MiB (20%), 10.0 MiB/s, 8 s left\x1b[K"
    )
    clock.now += REFRESH_S / 2
    task.advance_to(21 * 2**20)  # too soon: not drawn
    assert out.getvalue().count("\r") == 1
    clock.now += REFRESH_S
    task.advance_to(50 * 2**20)
    assert out.getvalue().count("\r") == 2
    task.close("loaded opl: 1,000 entries")
    assert out.getvalue().endswith("\rloaded opl: 1,000 entries\x1b[K\n")


def test_quiet_when_stderr_is_no_terminal() -> None:
    assert Progress.for_terminal(io.StringIO()) is None
    assert Progress.for_terminal(Terminal()) is not None
    closed = io.StringIO()
    closed.close()
    assert Progress.for_terminal(closed) is None


def test_counted_passes_items_through_and_sums_up() -> None:
    out = Terminal()
    items = list(range(10_000))
    assert list(counted(items, Progress(out), "exporting", 10_000, "entries")) == items
    assert "exporting: 4,096 entries / 10,000 entries (41%)" in out.getvalue()
    assert out.getvalue().endswith("exporting: 10,000 entries in 0.0 s\x1b[K\n")
    assert list(counted(items, None, "x", 1, "entries")) == items
