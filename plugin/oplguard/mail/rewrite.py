"""Add scanner headers to a message, keeping everything else byte for byte.

Pure.  Where the header section ends is mail/headers.py ``header_end`` (re-exported
here).  Incoming copies of the headers we write are removed first, so a sender
cannot forge a verdict; the input's line-ending style is kept.
"""

from __future__ import annotations

import re

from oplguard.headerend import header_end

__all__ = ["add_headers", "newline_of"]

_OWN_HEADER = re.compile(rb"^(x-spam-[a-z-]*|x-oplguard-verdict)\s*:", re.IGNORECASE)
# What every line _OWN_HEADER matches starts with (lower case): without one, nothing to drop.
_OWN_PREFIXES = (b"x-spam-", b"x-oplguard-verdict")


def newline_of(message: bytes) -> bytes:
    """The message's line ending: that of its first line, CRLF by default."""
    first = message.find(b"\n")
    if first > 0 and message[first - 1 : first] != b"\r":
        return b"\n"
    return b"\r\n"


def add_headers(message: bytes, headers: list[tuple[str, str]]) -> bytes:
    """Return ``message`` with ``headers`` appended to its header section."""
    end = header_end(message)
    newline = newline_of(message)
    head = message[:end]
    folded = head.lower()  # a line of ours can only start after an LF (or the start)
    if any(folded.startswith(own) or b"\n" + own in folded for own in _OWN_PREFIXES):
        head = _without_own_headers(head)
    if head and not head.endswith(b"\n"):
        head += newline
    added = [f"{name}: {value}".encode("utf-8", "replace") + newline for name, value in headers]
    rest = message[end:] if end < len(message) else newline
    return b"".join([head, *added]) + rest


def _without_own_headers(head: bytes) -> bytes:
    """``head`` without the fields ``_OWN_HEADER`` matches, continuations included."""
    kept: list[bytes] = []
    dropping = False
    for line in _lines(head):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(_OWN_HEADER.match(line))
        if not dropping:
            kept.append(line)
    return b"".join(kept)


def _lines(head: bytes) -> list[bytes]:
    """``head`` cut into lines after each LF, as SpamAssassin cuts them (a lone CR
    stays inside its line: oplguard/headerend.py)."""
    parts = head.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines
