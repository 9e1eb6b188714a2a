"""What came from mail or a requester is printed with control characters escaped (issue 13 §7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oplguard.cli import main
from oplguard.textsafe import printable_lines

HOSTILE = (
    b"Received: from evil\x1b]0;owned\x07.example (evil\x1b[2J.example [203.0.113.66])\r\n"
    b"\tby mx.example.net (Postfix) with ESMTP id 4Pq7\r\n"
    b"Message-ID: <a\x1b[31m@b>\r\nSubject: x\r\n\r\nbody\r\n"
)


def test_explain_escapes_header_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = tmp_path / "hostile.eml"
    message.write_bytes(HOSTILE)
    main(["explain", str(message)])
    out = capsys.readouterr().out
    assert "203.0.113.66" in out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b" in out


def test_printable_lines_keeps_line_breaks() -> None:
    assert printable_lines("a\x1bb\nc\td") == "a\\x1bb\nc\\x09d"
    assert printable_lines("plain\ntext") == "plain\ntext"
