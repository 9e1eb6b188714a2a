"""Literal prefilters: substrings any match of a compiled pattern must contain.

SpamAssassin's MTA table is tried row by row, ~40 regex searches per
``Received`` field; most rows need a keyword (" SMTPSVC", "Exim", " with
HTTP") that the field does not contain.  ``needles(pattern)`` reads the
pattern's parse tree once, at import, and returns the literal runs every
match must contain; ``absent(needles, text)`` is then a few C-level ``in``
tests that skip the regex when one is missing.  Sound by construction: only
literals on the pattern's mandatory path count (not inside alternatives,
optional or zero-minimum repeats, look-arounds, or case-insensitive parts),
so a skipped pattern could never have matched and results do not change.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

# The parser behind re.compile (its Python 3.11+ names; sre_parse is deprecated).
sre_constants: Any = importlib.import_module("re._constants")
sre_parser: Any = importlib.import_module("re._parser")

# Shorter runs are in almost every field (" ", "(") and filter nothing.
MIN_NEEDLE_CHARS = 3
# A few of the longest runs filter as well as all of them, for less work.
MAX_NEEDLES = 3

_LITERAL = sre_constants.LITERAL
_SUBPATTERN = sre_constants.SUBPATTERN
_REPEATS = tuple(
    getattr(sre_constants, name)
    for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
    if hasattr(sre_constants, name)
)
_ATOMIC = getattr(sre_constants, "ATOMIC_GROUP", None)


def _runs(items: Iterable[tuple[Any, Any]], ignorecase: bool, out: list[str]) -> None:
    """Collect mandatory literal runs of one sequence of parse items into ``out``."""
    run: list[str] = []

    def flush() -> None:
        if len(run) >= MIN_NEEDLE_CHARS:
            out.append("".join(run))
        run.clear()

    for op, av in items:
        if op is _LITERAL and not ignorecase:
            run.append(chr(av))
            continue
        flush()  # anything else breaks contiguity
        if op is _SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            inner = (ignorecase or bool(add_flags & re.IGNORECASE)) and not (
                del_flags & re.IGNORECASE
            )
            _runs(sub, inner, out)
        elif op in _REPEATS:
            low, _high, sub = av
            if low >= 1:
                _runs(sub, ignorecase, out)
        elif _ATOMIC is not None and op is _ATOMIC:
            _runs(av, ignorecase, out)
        # BRANCH, IN, ANY, AT, ASSERT, ASSERT_NOT, GROUPREF...: nothing mandatory.
    flush()


def needles(*patterns: re.Pattern[str]) -> tuple[str, ...]:
    """Literals that any text matched by every one of ``patterns`` contains."""
    found: list[str] = []
    for pattern in patterns:
        flags = pattern.flags & ~re.UNICODE
        tree = sre_parser.parse(pattern.pattern, flags)
        _runs(tree, bool(pattern.flags & re.IGNORECASE), found)
    unique = sorted(set(found), key=lambda text: (-len(text), text))
    return tuple(unique[:MAX_NEEDLES])


def absent(required: tuple[str, ...], text: str) -> bool:
    """True when one of ``required`` is missing from ``text`` (so no match is possible)."""
    for needle in required:  # noqa: SIM110 - a loop is cheaper than any() over a generator
        if needle not in text:
            return True
    return False


def any_in(candidates: tuple[str, ...], text: str) -> bool:
    """True when one of ``candidates`` occurs in ``text``."""
    for candidate in candidates:  # noqa: SIM110 - a loop is cheaper than any() over a generator
        if candidate in text:
            return True
    return False
