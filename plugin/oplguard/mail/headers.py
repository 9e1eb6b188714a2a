"""Split a raw message into its header fields: unfolded ``(name, value)`` pairs.

Pure: no I/O, never raises.  Bytes are decoded as latin-1 (every byte maps to
one character), so 8-bit header text can never fail a scan (spec §1).
"""

from __future__ import annotations

import re

# RFC 5322 §2.2: a field name is printable US-ASCII except ":"; obsolete
# syntax (RFC 5322 §4.5) allows white space before the colon, as SA does.
_FIELD = re.compile(r"([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)", re.DOTALL)
_FOLD_CHARS = " \t"

Header = tuple[str, str]
# The empty line after the header section, the message's own style first
# (told by a \r near the start), so the others only search the header section.
_SEPARATORS = {
    True: (b"\r\n\r\n", b"\n\n", b"\n\r\n"),
    False: (b"\n\n", b"\r\n\r\n", b"\n\r\n"),
}
_NEWLINE_PROBE = 1000


def header_section(message: bytes) -> str:
    """The header section of ``message`` (up to the first empty line), as text."""
    end = len(message)
    for separator in _SEPARATORS[message.find(b"\r", 0, _NEWLINE_PROBE) != -1]:
        # Only a separator before the best one so far matters: a bounded search
        # stops at the header end instead of scanning the body.
        found = message.find(separator, 0, end - 1 + len(separator))
        if found != -1:
            end = found
    if message.startswith((b"\r\n", b"\n")):
        end = 0
    return message[:end].decode("latin-1")


def header_fields(message: bytes) -> tuple[Header, ...]:
    """Every header field of ``message`` in order, unfolded (RFC 5322 §2.2.3).

    A continuation line joins its field with one space (SpamAssassin
    replaces ``\\n[ \\t]+`` by a space); values are trimmed.  Lines that are
    neither a field nor a continuation are dropped, with their continuations.
    """
    fields: list[Header] = []
    name: str | None = None
    parts: list[str] = []
    for line in header_section(message).split("\n"):
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
