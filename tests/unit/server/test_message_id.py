"""server.service.message_id: the logged Message-ID, from the header section only."""

from __future__ import annotations

import pytest

from oplguard.headerend import header_end
from oplguard.server.service import _MESSAGE_ID, MAX_LOGGED_ID_CHARS, message_id
from oplguard.textsafe import printable


def _reference(message: bytes) -> str:
    """message_id before its fast path: the regex over the whole header section
    (control characters escaped, as for every logged value that came from mail)."""
    match = _MESSAGE_ID.search(message, 0, header_end(message))
    found = "" if match is None else match.group(1).decode("latin-1").strip()
    return printable(found[:MAX_LOGGED_ID_CHARS])


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"Message-ID: <a@b>\r\n\r\nbody", "<a@b>"),
        (b"X-Message-ID: <x@y>\r\nMESSAGE-ID:\t<a@b> \r\n\r\n", "<a@b>"),
        (b"Subject: message-id: <x@y>\r\nmessage-id: <a@b>\r\n\r\n", "<a@b>"),
        (b"From: a\r\n\r\nMessage-ID: <body@b>\r\n", ""),
        (b"From: a\r\nMessage-Id:\r\n\r\n", ""),
        (b"Message-\xc4\xb0d: <a@b>\r\n\r\n", ""),
        (b"", ""),
    ],
)
def test_message_id(message: bytes, expected: str) -> None:
    assert message_id(message) == expected == _reference(message)


def test_message_id_is_the_whole_section_search() -> None:
    """Seeded header soup: the search started at the first "message-id:" finds the same."""
    import random

    rng = random.Random(3)
    pieces = [b"Message-ID:", b"x-message-id:", b" <a@b>", b"\r\n", b"\n", b"\t", b"A: 1"]
    for _ in range(20000):
        message = b"".join(rng.choice(pieces) for _ in range(rng.randrange(8)))
        assert message_id(message) == _reference(message), message


def test_message_id_control_characters_are_escaped() -> None:
    message = b"Message-ID: <a\x1b[2J\x00@b>\r\n\r\nbody"
    assert message_id(message) == "<a\\x1b[2J\\x00@b>"
