"""Split a raw message into its header fields: unfolded ``(name, value)`` pairs.

Pure: no I/O, never raises.  Bytes are decoded as latin-1 (every byte maps to
one character), so 8-bit header text can never fail a scan (relay-chain.md §1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from oplguard.headerend import HEADER_WINDOW, header_end

# Where the header section ends is defined once, in oplguard/headerend.py (a foundation
# module: spamd/ cuts the HEADERS reply with it too); re-exported here for mail/ readers.
__all__ = [
    "HEADER_WINDOW",
    "Header",
    "fields_of",
    "header_fields",
    "header_fields_within",
    "header_section",
    "header_section_within",
    "section_pieces",
    "values_of",
]

# RFC 5322 §2.2: a field name is printable US-ASCII except ":"; obsolete
# syntax (RFC 5322 §4.5) allows white space before the colon, as SA does.
_FIELD = re.compile(r"([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)", re.DOTALL)
_FOLD_CHARS = " \t"
# Where a line that starts a new field begins (not a continuation).
_FIELD_START = re.compile(r"\n(?![ \t])")

Header = tuple[str, str]


def header_section(message: bytes) -> str:
    """The header section of ``message`` (up to the first empty line), as text.

    Without the last field's line end: ``fields_of`` of it gives every field.
    """
    end = header_end(message)
    if end and end < len(message):  # drop the line end before the empty line
        crlf = message[end : end + 2] == b"\r\n" and message[end - 2 : end] == b"\r\n"
        end -= 2 if crlf else 1
    return message[:end].decode("latin-1")


def header_fields(message: bytes) -> tuple[Header, ...]:
    """Every header field of ``message`` in order, unfolded (RFC 5322 §2.2.3).

    A continuation line joins its field with one space (SpamAssassin
    replaces ``\\n[ \\t]+`` by a space); values are trimmed.  Lines that are
    neither a field nor a continuation are dropped, with their continuations.
    """
    return fields_of(header_section(message))


def header_fields_within(message: bytes, max_bytes: int) -> tuple[tuple[Header, ...], bool]:
    """``header_fields`` of at most the first ``max_bytes`` bytes, and whether that cut."""
    section, cut = header_section_within(message, max_bytes)
    return fields_of(section), cut


def header_section_within(message: bytes, max_bytes: int) -> tuple[str, bool]:
    """``header_section`` of at most the first ``max_bytes`` bytes, and whether that cut.

    A header section longer than ``max_bytes`` loses the rest, the partial
    last line included; the lines before it are kept.
    """
    if len(message) <= max_bytes:
        return header_section(message), False
    section = header_section(message[:max_bytes])
    if len(section) < max_bytes:
        return section, False
    return section[: section.rfind("\n") + 1], True


def section_pieces(section: str, size: int) -> Iterator[str]:
    """``section`` in pieces of about ``size`` characters, each a whole number of fields.

    ``fields_of`` of each piece, concatenated, is ``fields_of(section)``; a
    single field longer than ``size`` stays in one piece.
    """
    start = 0
    while len(section) - start > size:
        found = _FIELD_START.search(section, start + size)
        if found is None:
            break
        yield section[start : found.start()]
        start = found.end()
    yield section[start:]


def fields_of(section: str) -> tuple[Header, ...]:
    """The unfolded fields of a header section's text (see ``header_fields``)."""
    fields: list[Header] = []
    name: str | None = None
    parts: list[str] = []
    for line in section.split("\n"):
        line = line.removesuffix("\r")
        if line[:1] in (" ", "\t") and line:
            if name is not None:
                parts.append(line.lstrip(_FOLD_CHARS))
            continue
        if name is not None:
            fields.append((name, " ".join(parts).strip()))
        match = _FIELD.fullmatch(line)
        name, parts = (match.group(1), [match.group(2)]) if match else (None, [])
    if name is not None:
        fields.append((name, " ".join(parts).strip()))
    return tuple(fields)


def values_of(fields: tuple[Header, ...], name: str) -> tuple[str, ...]:
    """The values of every field called ``name`` (case-insensitive), top first."""
    wanted = name.lower()
    return tuple(value for field, value in fields if field.lower() == wanted)
