"""One end of headers: every reader of a message cuts it where SpamAssassin does.

The scan, the PROCESS rewrite, the HEADERS reply, tracking's sender fields and the
logged Message-ID used to find the end of the header section each their own way;
on a ``\\r\\r\\n`` line they disagreed (the rewrite stopped there, the scan went on).
SpamAssassin's Message.pm cuts lines after LF only and takes a ``\\r\\r\\n`` line for
a malformed field: the fields after it are headers (relay-chain.md §1).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess

import pytest

from oplguard.headerend import header_end, header_part
from oplguard.mail.headers import header_fields, values_of
from oplguard.mail.rewrite import add_headers
from oplguard.policy.scanner import short_header
from oplguard.server.service import message_id
from oplguard.spamd.messages import Request, ScanResult, Verb
from oplguard.spamd.render import render_response
from oplguard.tracking.record import sender_fields

HEAD = (
    b"Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n"
    b"\tby mx.example.net (Postfix) with ESMTP id 4XyZ1; Tue, 1 Oct 2024 10:00:00 +0000\r\n"
    b"Subject: a lone CR follows\r\n"
    b"\r\r\n"
    b"From: Alice <alice@example.org>\r\n"
    b"Message-ID: <after-the-cr@example.org>\r\n"
)
MESSAGE = HEAD + b"\r\nbody line\r\n"
ADDED = [("X-Spam-Status", "No, score=0.0")]


def test_every_reader_cuts_a_cr_cr_lf_message_where_spamassassin_does() -> None:
    assert header_end(MESSAGE) == len(HEAD)
    fields = header_fields(MESSAGE)
    assert values_of(fields, "message-id") == ("<after-the-cr@example.org>",)
    assert sender_fields(fields) == ("", "Alice <alice@example.org>")
    assert message_id(MESSAGE) == "<after-the-cr@example.org>"
    rewritten = add_headers(MESSAGE, ADDED)
    assert rewritten == HEAD + b"X-Spam-Status: No, score=0.0\r\n\r\nbody line\r\n"
    reply = render_response(Request(Verb.HEADERS, (1, 5)), ScanResult(0.0, 5.0, (), "", rewritten))
    assert reply.endswith(b"\r\n\r\n" + HEAD + b"X-Spam-Status: No, score=0.0\r\n\r\n")
    assert header_fields(rewritten)[:-1] == fields


def test_the_empty_line_after_lf_or_crlf_still_ends_the_section() -> None:
    for head, empty in ((b"A: 1\r\n", b"\r\n"), (b"A: 1\n", b"\n"), (b"A: 1\n", b"\r\n")):
        message = head + empty + b"B: body\r\n"
        assert header_end(message) == len(head)
        assert header_part(message) == head + empty
        assert header_fields(message) == (("A", "1"),)
    assert header_end(b"\r\nB: body") == 0
    assert header_part(b"A: 1") == b"A: 1"


def test_a_long_section_is_long_for_the_scanner_too() -> None:
    long_head = b"X-Pad: " + b"x" * 20_000 + b"\r\n\r\r\n"
    assert not short_header(long_head + b"\r\nbody")
    assert short_header(b"A: 1\r\r\n\r\n" + b"b" * 20_000)


def _spamassassin_header_lengths(messages: list[bytes]) -> list[int]:
    """Where SpamAssassin's own parser ends each pristine header section (one perl run)."""
    script = (
        "use Mail::SpamAssassin::Message; local $/; binmode STDIN;"
        "for my $raw (split /\\0/, <STDIN>) {"
        " my $m = Mail::SpamAssassin::Message->new({message => $raw});"
        ' print length($m->get_pristine_header()), "\\n" }'
    )
    done = subprocess.run(
        ["perl", "-e", script],
        input=b"\0".join(messages),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return [int(line) for line in done.stdout.split()]


@pytest.mark.skipif(shutil.which("perl") is None, reason="needs perl with SpamAssassin")
def test_header_part_is_spamassassins_pristine_header() -> None:
    """CRLF messages (SA takes the line ending from the first line), at most three
    malformed lines (SA ends the section at a fourth): the same cut as SA's."""
    pieces = [b"A: 1", b"\r", b"\r\r\n", b"\r\n", b" folded\r\n"]
    messages = [
        b"X: 0\r\n" + b"".join(parts) + b"\r\n\r\nbody\r\n"
        for parts in itertools.product(pieces, repeat=3)
    ]
    assert [len(header_part(m)) for m in messages] == _spamassassin_header_lengths(messages)
