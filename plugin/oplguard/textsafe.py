"""Text from mail or a requester, made safe to print on a terminal or in a log.

Pure.  Control characters (C0, DEL, C1) and the Unicode line separators and
bidirectional overrides could move a terminal's cursor, forge a log line or
reorder what an admin reads; each becomes a visible ``\\xNN`` / ``\\uNNNN``.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character escaped (unchanged when there is none)."""
    if _UNSAFE.search(text) is None:  # the common case: one C-level scan
        return text
    return _UNSAFE.sub(_escape, text)


def has_control(text: str) -> bool:
    """True when ``text`` holds a character ``printable`` would escape."""
    return _UNSAFE.search(text) is not None


def printable_lines(text: str) -> str:
    """``printable`` for each line of ``text``; its line breaks are kept."""
    if _UNSAFE.search(text) is None:
        return text
    return "\n".join(printable(line) for line in text.split("\n"))
