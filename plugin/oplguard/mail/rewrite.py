"""Add scanner headers to a message, keeping everything else byte for byte.

Pure.  Incoming copies of the headers we write are removed first, so a sender
cannot forge a verdict; the input's line-ending style is kept.
"""

from __future__ import annotations

import re

_OWN_HEADER = re.compile(rb"^(x-spam-[a-z-]*|x-oplguard-verdict)\s*:", re.IGNORECASE)


def header_end(message: bytes) -> int:
    """Offset where the header section ends (the empty line starts, or len)."""
    offset = 0
    for line in message.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            return offset
        offset += len(line)
    return offset


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
    kept: list[bytes] = []
    dropping = False
    for line in message[:end].splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(_OWN_HEADER.match(line))
        if not dropping:
            kept.append(line)
    if kept and not kept[-1].endswith(b"\n"):
        kept[-1] += newline
    added = [f"{name}: {value}".encode("utf-8", "replace") + newline for name, value in headers]
    rest = message[end:] if end < len(message) else newline
    return b"".join(kept + added) + rest
