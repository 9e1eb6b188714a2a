"""Seed corpora for fuzzing: real Received lines and spamd requests."""

from __future__ import annotations

import zlib
from pathlib import Path

RECEIVED_DIR = Path(__file__).parent.parent / "data" / "received"


def received_lines() -> list[str]:
    """Every Received value of the SA-checked corpus (folds restored)."""
    lines: list[str] = []
    for path in sorted(RECEIVED_DIR.glob("*.txt")):
        for raw in path.read_bytes().decode("latin-1").splitlines():
            if raw and not raw.startswith("#"):
                lines.append(raw.replace("\\n", "\r\n"))
    return lines


MESSAGE = (
    b"Received: from mail.example.org (mail.example.org [192.0.2.99])\r\n"
    b"\tby mx.example.net (Postfix) with ESMTP id 4XyZ1\r\n"
    b"\tfor <user@example.net>; Tue,  1 Oct 2024 10:00:00 +0000 (UTC)\r\n"
    b"Subject: test\r\n\r\nhello\r\n"
)


def spamd_requests() -> list[bytes]:
    """Requests real clients send (spamd-protocol.md §8-§9), as seeds for mutation."""
    packed = zlib.compress(MESSAGE, 3)
    length = b"Content-length: %d\r\n" % len(MESSAGE)
    return [
        b"PING SPAMC/1.5\r\n\r\n",
        b"PING SPAMC/1.2\r\n",
        b"CHECK SPAMC/1.5\r\nUser: alice\r\n" + length + b"\r\n" + MESSAGE,
        b"SYMBOLS SPAMC/1.2\r\nUser: nobody\r\n\r\n" + MESSAGE,
        b"REPORT SPAMC/1.2\r\nUser: nobody\r\n" + length + b"\r\n" + MESSAGE,
        b"PROCESS SPAMC/1.0\r\n" + MESSAGE,
        b"HEADERS SPAMC/1.5\r\n" + length + b"\r\n" + MESSAGE + b"\r\n",
        b"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: %d\r\n\r\n" % len(packed) + packed,
        b"TELL SPAMC/1.5\r\nMessage-class: spam\r\nSet: local,remote\r\nUser: bob\r\n"
        + length
        + b"\r\n"
        + MESSAGE,
        b"SKIP SPAMC/1.5\r\n\r\n",
    ]
