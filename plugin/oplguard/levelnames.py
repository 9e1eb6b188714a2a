"""Log level names as an admin types them: the one vocabulary of levels.

Pure and import-free, so that the config loader, the CLI and the running
service read ``warning``, ``Warnings`` and ``WARN`` the same way.
"""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """The level names, most verbose first: SIGUSR1 moves one step left, SIGUSR2 one right."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


LEVEL_NAMES = tuple(Level)
# Lifecycle lines (listening, reloaded, stopped) log INFO on this logger, which the
# services hold at INFO whatever log_level says: the default config shows them.
LIFECYCLE_LOGGER = "oplguard.lifecycle"
# The shortest prefix of a level name taken for it: "warn", "err", "crit", "deb".
MIN_LEVEL_PREFIX = 3


def level_name(text: str) -> str:
    """The canonical name of a level as an admin types it: any case, a plural
    (``Warnings``), or a prefix of three letters or more (``warn``, ``err``).

    Raises:
        ValueError: not a level; the message lists the names.
    """
    name = text.strip().upper()
    if name.endswith("S") and name[:-1] in LEVEL_NAMES:
        name = name[:-1]
    if len(name) >= MIN_LEVEL_PREFIX:
        found = [known for known in LEVEL_NAMES if known.startswith(name)]
        if len(found) == 1:
            return found[0]
    raise ValueError(f"unknown level {text!r}: use one of {', '.join(LEVEL_NAMES).lower()}")
