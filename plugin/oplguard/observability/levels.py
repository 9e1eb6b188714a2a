"""Per-component log levels, changed at run time, with reverts that need nobody.

Each component is one logger (``relays`` -> ``oplguard.relays``); children
inherit its level.  While a trace runs the component loggers are held at
DEBUG and the configured levels live here, so ``levels()`` always shows what
an admin set, and the trace gate drops what that level would not show.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

# The vocabulary lives in levelnames.py (the config loader reads it too).
from oplguard.levelnames import LEVEL_NAMES as LEVEL_NAMES
from oplguard.levelnames import level_name as level_name


class Component(StrEnum):
    """The parts of oplguard whose log level is set on its own (logger ``oplguard.<name>``)."""

    PROTOCOL = "protocol"
    RELAYS = "relays"
    LISTS = "lists"
    POLICY = "policy"
    TRACKING = "tracking"
    WEB = "web"


COMPONENT_LOGGERS: dict[str, str] = {c: f"oplguard.{c}" for c in Component}
COMPONENTS: tuple[str, ...] = tuple(Component)

log = logging.getLogger("oplguard.server")


class Cancellable(Protocol):
    def cancel(self) -> None: ...


Schedule = Callable[[float, Callable[[], None]], Cancellable]


def parse_level(text: str) -> int:
    """The numeric level of a name, read as ``level_name`` reads it.

    Raises:
        ValueError: not one of debug, info, warning, error, critical.
    """
    return logging.getLevelNamesMapping()[level_name(text)]


def check_component(name: str) -> str:
    """``name`` if it is a component.

    Raises:
        ValueError: an unknown component; the message lists the known ones.
    """
    if name not in COMPONENT_LOGGERS:
        raise ValueError(f"unknown component {name!r}: use one of {', '.join(COMPONENTS)}")
    return name


def component_of(logger_name: str) -> str | None:
    """The component a logger belongs to (itself or a child), or None."""
    for component, base in COMPONENT_LOGGERS.items():
        if logger_name == base or logger_name.startswith(base + "."):
            return component
    return None


@dataclass(slots=True)
class Revert:
    """A pending return of one component to its earlier raw level."""

    raw_level: int
    at: datetime
    handle: Cancellable


class LevelControl:
    """Reads and sets component levels; reverts are timers on the caller's scheduler."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.reverts: dict[str, Revert] = {}
        # Raw (possibly NOTSET) levels set aside while a trace holds the loggers at DEBUG.
        self.held: dict[str, int] | None = None

    def _raw(self, component: str) -> int:
        if self.held is not None:
            return self.held[component]
        return logging.getLogger(COMPONENT_LOGGERS[component]).level

    def level(self, component: str) -> int:
        """The configured effective level of one component."""
        raw = self._raw(component)
        if raw != logging.NOTSET:
            return raw
        parent = logging.getLogger(COMPONENT_LOGGERS[component]).parent
        return parent.getEffectiveLevel() if parent is not None else logging.WARNING

    def levels(self) -> dict[str, str]:
        return {c: logging.getLevelName(self.level(c)) for c in COMPONENTS}

    def pending(self) -> list[dict[str, str]]:
        return [
            {
                "component": c,
                "level": logging.getLevelName(self._effective(c, r.raw_level)),
                "at": iso(r.at),
            }
            for c, r in sorted(self.reverts.items())
        ]

    def _effective(self, component: str, raw: int) -> int:
        if raw != logging.NOTSET:
            return raw
        parent = logging.getLogger(COMPONENT_LOGGERS[component]).parent
        return parent.getEffectiveLevel() if parent is not None else logging.WARNING

    def _apply(self, component: str, raw: int) -> None:
        if self.held is not None:
            self.held[component] = raw
        else:
            logging.getLogger(COMPONENT_LOGGERS[component]).setLevel(raw)

    def set(
        self, component: str | None, level: str, for_s: float | None = None
    ) -> dict[str, object]:
        """Set one component (None: all) to ``level``; with ``for_s``, revert after it.

        A timed change reverts to the level before the first pending change, so
        stacking ``--for`` changes never strands a component at DEBUG; an untimed
        change cancels the pending revert.

        Raises:
            ValueError: a bad component or level name.
        """
        number = parse_level(level)
        targets = [check_component(component)] if component else list(COMPONENTS)
        previous = {c: logging.getLevelName(self.level(c)) for c in targets}
        revert_at = datetime.now(UTC) + timedelta(seconds=for_s) if for_s else None
        for c in targets:
            old = self.reverts.pop(c, None)
            if old is not None:
                old.handle.cancel()
            if revert_at is not None and for_s is not None:
                back = old.raw_level if old is not None else self._raw(c)
                handle = self.schedule(for_s, functools.partial(self._revert, c, back))
                self.reverts[c] = Revert(back, revert_at, handle)
            self._apply(c, number)
        log.warning(
            "log level %s set to %s%s (was %s)",
            component or "all",
            logging.getLevelName(number),
            f" until {iso(revert_at)}" if revert_at else "",
            ",".join(f"{c}={v}" for c, v in previous.items()),
        )
        return {
            "previous": previous,
            "levels": self.levels(),
            "revert_at": iso(revert_at) if revert_at else None,
        }

    def _revert(self, component: str, raw: int) -> None:
        self.reverts.pop(component, None)
        self._apply(component, raw)
        log.warning(
            "log level %s reverted to %s",
            component,
            logging.getLevelName(self._effective(component, raw)),
        )

    def step(self, more_verbose: bool) -> None:
        """SIGUSR1 (more verbose) / SIGUSR2 (less): every component one level, no revert."""
        for c in COMPONENTS:
            index = LEVEL_NAMES.index(logging.getLevelName(self.level(c)))
            index = max(0, index - 1) if more_verbose else min(len(LEVEL_NAMES) - 1, index + 1)
            old = self.reverts.pop(c, None)
            if old is not None:
                old.handle.cancel()
            self._apply(c, logging.getLevelNamesMapping()[LEVEL_NAMES[index]])
        log.warning("log levels stepped by signal: %s", self.levels())

    def hold_debug(self, on: bool) -> None:
        """Hold every component logger at DEBUG for a trace (on), or give them back (off)."""
        if on and self.held is None:
            self.held = {c: self._raw(c) for c in COMPONENTS}
            for base in COMPONENT_LOGGERS.values():
                logging.getLogger(base).setLevel(logging.DEBUG)
        elif not on and self.held is not None:
            held, self.held = self.held, None
            for c, raw in held.items():
                logging.getLogger(COMPONENT_LOGGERS[c]).setLevel(raw)

    def configured(self, logger_name: str) -> int | None:
        """The configured level for a record's logger, or None outside the components."""
        component = component_of(logger_name)
        return None if component is None else self.level(component)

    def revert_now(self) -> None:
        """At shutdown: apply every pending revert at once (the process may live on)."""
        self.hold_debug(False)
        for component, revert in list(self.reverts.items()):
            revert.handle.cancel()
            self._revert(component, revert.raw_level)


def iso(when: datetime) -> str:
    """ISO 8601 UTC with a Z, to the second (what the Ansible role shows)."""
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
