"""Add scanner headers to a message, keeping everything else byte for byte.

Pure.  Incoming copies of the headers we write are removed first, so a sender
cannot forge a verdict; the input's line-ending style is kept.
"""

from __future__ import annotations

import re

_OWN_HEADER = re.compile(rb"^(x-spam-[a-z-]*|x-oplguard-verdict)\s*:", re.IGNORECASE)


# An empty line ("\r\n" or "\n", as bytes.splitlines ends lines at \r\n, \r
# or \n) starts the message or follows one of these line ends.  The likely one
# is searched for first, so that the others only search the header section.
_EMPTY_LINE_AFTER = {
    b"\r\n": (b"\n\r\n", b"\n\n", b"\r\r\n"),
    b"\n": (b"\n\n", b"\n\r\n", b"\r\r\n"),
}


def header_end(message: bytes) -> int:
    """Offset where the header section ends (the empty line starts, or len).

    Searched for, rather than splitting the whole message (body too) into lines.
    """
    if message.startswith((b"\n", b"\r\n")):
        return 0
    end = len(message)
    for pair in _EMPTY_LINE_AFTER[newline_of(message)]:
        # Only an empty line before the best one so far matters.
        found = message.find(pair, 0, end - 2 + len(pair))
        if found >= 0:
            end = found + 1
    return end


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
