"""Where a message's header section ends: the one definition every reader uses.

Pure, no oplguard imports (a foundation module): the scan (mail/headers.py),
the PROCESS rewrite (mail/rewrite.py), the HEADERS reply (spamd/render.py),
tracking's sender fields and the logged Message-ID all cut a message here.

Lines end at LF only, as SpamAssassin's Mail::SpamAssassin::Message splits them
(``split /^/m``); the header section ends at the first line that is empty,
``"\n"`` or ``"\r\n"``.  A line ``"\r\r\n"`` is not empty: SA reads it as a
malformed field line and the header section goes on (relay-chain.md §1).
"""

from __future__ import annotations

# Header sections are a few KB, bodies up to max_message_bytes: searches for the
# end of the headers look at a growing prefix, so a big body is never scanned.
HEADER_WINDOW = 8192


def earliest(message: bytes, patterns: tuple[bytes, ...], window: int = HEADER_WINDOW) -> int:
    """Where the first occurrence of any of ``patterns`` starts, or -1.

    Looks in ``message[:window]``, then a window 8 times larger, and so on.  The
    earliest occurrence wholly inside a window is the answer: one that crosses
    the window's end starts after it.
    """
    size = len(message)
    while True:
        limit = min(window, size)
        best = -1
        for pattern in patterns:  # each search stops where the best so far would end
            found = message.find(pattern, 0, limit if best == -1 else best + len(pattern) - 1)
            if found != -1:
                best = found
        if best != -1 or limit == size:
            return best
        window *= 8


# An empty line other than the first starts right after an LF.  CRLF first: mail on
# the wire is CRLF, and ``earliest`` bounds the later searches by the first one found.
EMPTY_LINE_AFTER = (b"\n\r\n", b"\n\n")


def header_end(message: bytes, window: int = HEADER_WINDOW) -> int:
    """Offset where the header section ends: where its empty line starts, or len.

    Reads only the header section (a growing prefix, see ``earliest``), not the body.
    """
    if message.startswith((b"\n", b"\r\n")):
        return 0
    found = earliest(message, EMPTY_LINE_AFTER, window)
    return len(message) if found == -1 else found + 1


def header_part(message: bytes) -> bytes:
    """``message`` up to and including the empty line that ends its header section
    (what a HEADERS reply echoes); the whole message when there is none."""
    end = header_end(message)
    return message[: end + (1 if message[end : end + 1] == b"\n" else 2)]


def ends_within(message: bytes, limit: int) -> bool:
    """True when the header section ends within the first ``limit`` bytes."""
    if len(message) <= limit:
        return True
    return header_end(message[:limit]) < limit
