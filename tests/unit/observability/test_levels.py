"""Durations, level names and LevelControl with a manual scheduler (no waiting)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from oplguard.observability.durations import parse_duration
from oplguard.observability.levels import COMPONENT_LOGGERS, LevelControl, parse_level


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), (" 5M ", 300)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "half an hour", "0s", "8d", "1x", "-5m"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_level_names_are_case_insensitive_and_checked() -> None:
    assert parse_level("debug") == logging.DEBUG
    with pytest.raises(ValueError, match="unknown level 'loud'"):
        parse_level("loud")


class Timers:
    """A manual scheduler: fire() runs what is due, as the event loop would."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None], list[bool]]] = []

    def __call__(self, delay: float, action: Callable[[], None]) -> Handle:
        cancelled = [False]
        self.pending.append((delay, action, cancelled))
        return Handle(cancelled)

    def fire(self) -> None:
        for _delay, action, cancelled in list(self.pending):
            if not cancelled[0]:
                action()
        self.pending.clear()


class Handle:
    def __init__(self, flag: list[bool]) -> None:
        self.flag = flag

    def cancel(self) -> None:
        self.flag[0] = True


@pytest.fixture
def control() -> Iterator[tuple[LevelControl, Timers]]:
    saved = {name: logging.getLogger(name).level for name in COMPONENT_LOGGERS.values()}
    timers = Timers()
    yield LevelControl(timers), timers
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_timed_level_reverts_to_the_level_before(control: tuple[LevelControl, Timers]) -> None:
    levels, timers = control
    before = levels.levels()
    result = levels.set("relays", "debug", 60)
    assert result["previous"] == {"relays": before["relays"]}
    assert levels.levels()["relays"] == "DEBUG"
    assert logging.getLogger("oplguard.relays").isEnabledFor(logging.DEBUG)
    assert [r["component"] for r in levels.pending()] == ["relays"]
    timers.fire()
    assert levels.levels() == before
    assert levels.pending() == []


def test_stacked_timed_changes_return_to_the_first_level(
    control: tuple[LevelControl, Timers],
) -> None:
    levels, timers = control
    before = levels.levels()["lists"]
    levels.set("lists", "info", 60)
    levels.set("lists", "debug", 30)
    timers.fire()
    assert levels.levels()["lists"] == before


def test_untimed_change_cancels_the_pending_revert(control: tuple[LevelControl, Timers]) -> None:
    levels, timers = control
    levels.set(None, "debug", 60)
    levels.set(None, "error")
    timers.fire()
    assert set(levels.levels().values()) == {"ERROR"}


def test_trace_hold_keeps_configured_levels_visible(control: tuple[LevelControl, Timers]) -> None:
    levels, _ = control
    levels.set(None, "warning")
    levels.hold_debug(True)
    assert logging.getLogger("oplguard.policy").isEnabledFor(logging.DEBUG)
    assert set(levels.levels().values()) == {"WARNING"}
    levels.set("policy", "info")
    levels.hold_debug(False)
    assert logging.getLogger("oplguard.policy").getEffectiveLevel() == logging.INFO
    assert not logging.getLogger("oplguard.lists").isEnabledFor(logging.INFO)


def test_unknown_component_changes_nothing(control: tuple[LevelControl, Timers]) -> None:
    levels, _ = control
    before = levels.levels()
    with pytest.raises(ValueError, match="unknown component 'kernel'"):
        levels.set("kernel", "debug")
    assert levels.levels() == before
