"""Splitting a raw message into unfolded header fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oplguard.headerend import earliest
from oplguard.mail.headers import header_fields, header_section, values_of


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_fields_are_unfolded_and_stop_at_the_empty_line(newline: bytes) -> None:
    message = newline.join(
        [
            b"Received: from a (a",
            b"\t [192.0.2.1])",
            b"   by b",
            b"RECEIVED : from c",
            b"Subject: x",
            b"",
            b"Received: from body (body [198.51.100.1]) by x",
            b"",
        ]
    )
    assert header_fields(message) == (
        ("Received", "from a (a [192.0.2.1]) by b"),
        ("RECEIVED", "from c"),
        ("Subject", "x"),
    )
    assert values_of(header_fields(message), "received") == (
        "from a (a [192.0.2.1]) by b",
        "from c",
    )


def test_eight_bit_bytes_are_read_as_latin1() -> None:
    assert header_fields(b"Received: from r\xe9seau\r\n\r\n") == (("Received", "from r\xe9seau"),)


def test_lines_that_are_not_fields_are_dropped_with_their_continuations() -> None:
    message = b"From sender Tue Oct  1 10:00:00 2024\n cont\nReceived: from a\n\nbody"
    assert header_fields(message) == (("Received", "from a"),)


@pytest.mark.parametrize(
    "message",
    [b"", b"\r\n\r\nReceived: from a\r\n", b"\nReceived: from a\n", b"no colon here"],
    ids=["empty", "crlf-body-only", "lf-body-only", "junk"],
)
def test_no_header_section(message: bytes) -> None:
    assert header_fields(message) == ()


def test_message_without_body_keeps_its_last_field() -> None:
    assert header_fields(b"Subject: a\r\nReceived: from b") == (
        ("Subject", "a"),
        ("Received", "from b"),
    )


def _section_by_full_search(message: bytes) -> str:
    """The definition: the earliest separator anywhere in the message."""
    end = len(message)
    for separator in (b"\r\n\r\n", b"\n\n", b"\n\r\n"):
        found = message.find(separator)
        if found != -1:
            end = min(end, found)
    if message.startswith((b"\r\n", b"\n")):
        end = 0
    return message[:end].decode("latin-1")


@given(st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"A: 1", b" x", b""]), max_size=14))
def test_header_section_reads_a_growing_prefix_with_the_same_result(parts: list[bytes]) -> None:
    message = b"".join(parts)
    assert header_section(message) == _section_by_full_search(message)
    for window in (1, 2, 3, 5):  # no separator may be lost where two windows meet
        end = earliest(message, (b"\r\n\r\n", b"\n\n", b"\n\r\n"), window)
        expected = _section_by_full_search(message)
        if not message.startswith((b"\r\n", b"\n")):
            assert message[: len(message) if end == -1 else end].decode("latin-1") == expected
