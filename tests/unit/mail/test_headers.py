"""Splitting a raw message into unfolded header fields."""

from __future__ import annotations

import pytest

from oplguard.mail.headers import header_fields, values_of


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


def _reference_header_section(message: bytes) -> str:
    """header_section before its bounded searches: each separator over the whole message."""
    end = len(message)
    for separator in (b"\r\n\r\n", b"\n\n", b"\n\r\n"):
        found = message.find(separator)
        if found != -1:
            end = min(end, found)
    if message.startswith((b"\r\n", b"\n")):
        end = 0
    return message[:end].decode("latin-1")


def test_header_section_is_the_whole_message_search() -> None:
    """Seeded messages of line-end soup give the same section as unbounded searches."""
    import random

    from oplguard.mail.headers import header_section

    rng = random.Random(11)
    pieces = [b"a", b"B: 1", b"\r\n", b"\n", b"\r", b" "]
    for _ in range(20000):
        message = b"".join(rng.choice(pieces) for _ in range(rng.randrange(12)))
        if rng.random() < 0.05:
            message = b"x" * 1000 + message
        assert header_section(message) == _reference_header_section(message), message
