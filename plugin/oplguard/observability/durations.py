"""Durations as admins write them: ``90s``, ``30m``, ``2h``, ``1h30m``, ``1d``."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A revert or trace longer than this is almost certainly a typo (30d for 30m).
MAX_DURATION_S = 7 * 86400


def parse_duration(text: str, max_s: float = MAX_DURATION_S) -> float:
    """Seconds in ``text``.

    Raises:
        ValueError: not a duration, zero, or longer than a week; the message says how to write one.
    """
    cleaned = text.strip().lower()
    if not cleaned or _PART.sub("", cleaned):
        raise ValueError(f"bad duration {text!r}: write 90s, 30m, 2h or 1h30m")
    seconds = sum(int(n) * _UNIT_S[unit] for n, unit in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}: it must be longer than 0s")
    if seconds > max_s:
        raise ValueError(f"duration {text!r} is longer than {max_s / 86400:g}d")
    return float(seconds)
