"""Adding scanner headers keeps the message byte for byte otherwise."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oplguard.headerend import header_end
from oplguard.mail.rewrite import add_headers

HEADERS = [("X-Spam-Status", "No, score=0.0"), ("X-Oplguard-Verdict", "pass")]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            b"Subject: a\r\n\r\nbody\r\n",
            b"Subject: a\r\nX-Spam-Status: No, score=0.0\r\n"
            b"X-Oplguard-Verdict: pass\r\n\r\nbody\r\n",
        ),
        (
            b"Subject: a\n\nbody\n",
            b"Subject: a\nX-Spam-Status: No, score=0.0\nX-Oplguard-Verdict: pass\n\nbody\n",
        ),
        (
            b"Subject: a",
            b"Subject: a\r\nX-Spam-Status: No, score=0.0\r\nX-Oplguard-Verdict: pass\r\n\r\n",
        ),
        (b"", b"X-Spam-Status: No, score=0.0\r\nX-Oplguard-Verdict: pass\r\n\r\n"),
        (
            b"\r\nbody only\r\n",
            b"X-Spam-Status: No, score=0.0\r\nX-Oplguard-Verdict: pass\r\n\r\nbody only\r\n",
        ),
    ],
    ids=["crlf", "lf", "no-body", "empty", "no-headers"],
)
def test_headers_are_appended_to_the_header_section(message: bytes, expected: bytes) -> None:
    assert add_headers(message, HEADERS) == expected


def test_forged_incoming_verdict_headers_are_removed_with_continuations() -> None:
    message = (
        b"X-Spam-Flag: YES\r\nX-Oplguard-Verdict: pass;\r\n ip=1\r\nSubject: a\r\n"
        b"X-Spam-Status: Yes\r\n\r\nX-Spam-Flag: in the body stays\r\n"
    )
    out = add_headers(message, [("X-Spam-Status", "No")])
    assert out == b"Subject: a\r\nX-Spam-Status: No\r\n\r\nX-Spam-Flag: in the body stays\r\n"


def test_body_bytes_are_untouched() -> None:
    body = bytes(range(256)) * 4
    out = add_headers(b"Subject: a\r\n\r\n" + body, HEADERS)
    assert out.endswith(b"\r\n\r\n" + body)


def test_header_end_finds_the_empty_line() -> None:
    assert header_end(b"A: 1\r\nB: 2\r\n\r\nbody") == 12
    assert header_end(b"A: 1\nB: 2") == 9


def _header_end_by_lines(message: bytes) -> int:
    """The definition: the first line (cut after each LF, as SpamAssassin's
    Message.pm cuts them) that is empty."""
    offset = 0
    for line in re.findall(rb"[^\n]*\n|[^\n]+", message):
        if line in (b"\r\n", b"\n"):
            return offset
        offset += len(line)
    return offset


@given(
    st.lists(
        st.sampled_from([b"\r", b"\n", b"\r\n", b"A: 1", b" x", b"\x0c", b"\x1c", b""]), max_size=12
    )
)
def test_header_end_is_the_first_empty_line_by_the_line_definition(parts: list[bytes]) -> None:
    message = b"".join(parts)
    expected = _header_end_by_lines(message)
    assert header_end(message) == expected
    for window in (1, 2, 3, 5):  # the search window grows: no line end may fall between
        assert header_end(message, window) == expected


def test_header_end_reads_line_ends_as_spamassassin_does() -> None:
    # One line "A: 1\r\r\n", then "body": no empty line (SA reads a lone CR as text).
    assert header_end(b"A: 1\r\r\nbody") == 11
    assert header_end(b"A: 1\r\nB") == 7  # the LF belongs to the CRLF: no empty line
    assert header_end(b"\nA: 1") == 0


def test_a_lone_cr_does_not_start_a_line_as_spamassassin_reads_it() -> None:
    # SA's one line "Subject: a\rX-Spam-Flag: YES" is a Subject: nothing to remove.
    message = b"Subject: a\rX-Spam-Flag: YES\r\nx-SPAM-flag : no\r\n\r\nbody\r\n"
    out = add_headers(message, [("X-Spam-Status", "No")])
    assert out == b"Subject: a\rX-Spam-Flag: YES\r\nX-Spam-Status: No\r\n\r\nbody\r\n"
