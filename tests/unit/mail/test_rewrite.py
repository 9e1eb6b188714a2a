"""Adding scanner headers keeps the message byte for byte otherwise."""

from __future__ import annotations

import pytest

from oplguard.mail.rewrite import add_headers, header_end

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


def _reference_header_end(message: bytes) -> int:
    """header_end before its fast path: split the whole message into lines."""
    offset = 0
    for line in message.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            return offset
        offset += len(line)
    return offset


def test_header_end_is_the_line_split_answer() -> None:
    """Seeded messages of line-end soup (lone \\r too): same offset as splitting lines."""
    import random

    rng = random.Random(7)
    pieces = [b"a", b"B: 1", b"\r\n", b"\n", b"\r", b" "]
    for _ in range(20000):
        message = b"".join(rng.choice(pieces) for _ in range(rng.randrange(10)))
        assert header_end(message) == _reference_header_end(message), message
