"""The spamd parser fed as the protocol feeds it (server/spamd_protocol.py): whatever chunks
``data_received`` gets, at every boundary, the same event; bytes after a request never change
it; lengths no server could hold fail before anything is read."""

from __future__ import annotations

import zlib

import pytest

from oplguard.spamd.connection import SpamdConnection
from oplguard.spamd.messages import NEED_DATA, Limits, ProtocolFailure, Request, Verb

MESSAGE = (
    b"Received: from mail.example.org (mail.example.org [192.0.2.99])\r\n"
    b"\tby mx.example.net (Postfix) with ESMTP id 4XyZ1; Tue,  1 Oct 2024 10:00:00 +0000\r\n"
    b"Subject: test\r\n\r\nhello\r\n"
)
PACKED = zlib.compress(MESSAGE)
# Requests that end without EOF: the event must come from the bytes alone.
COMPLETE = {
    "ping": b"PING SPAMC/1.5\r\n\r\n",
    "check": b"CHECK SPAMC/1.5\r\nUser: bob\r\nContent-length: %d\r\n\r\n" % len(MESSAGE) + MESSAGE,
    "process-zlib": b"PROCESS SPAMC/1.5\r\nCompress: zlib\r\nContent-length: %d\r\n\r\n"
    % len(PACKED)
    + PACKED,
    "tell": b"TELL SPAMC/1.5\r\nMessage-class: spam\r\nSet: local, remote\r\n"
    b"Content-length: %d\r\n\r\n" % len(MESSAGE) + MESSAGE,
    "report-12": b"REPORT SPAMC/1.2\r\nContent-length: %d\r\n\r\n" % len(MESSAGE) + MESSAGE,
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not spamd\r\n",
}


def feed(*chunks: bytes, eof: bool = False, limits: Limits | None = None) -> object:
    """The event after ``chunks`` (and EOF); the first one that is not NEED_DATA counts.

    An empty chunk is skipped: ``data_received`` never gets one (``b""`` is the parser's EOF).
    """
    parser = SpamdConnection(limits)
    for chunk in chunks:
        if not chunk:
            continue
        parser.receive_data(chunk)
        event = parser.next_event()
        if event is not NEED_DATA:
            return event
    if eof:
        parser.receive_data(b"")
    return parser.next_event()


@pytest.mark.parametrize("name", sorted(COMPLETE))
def test_a_request_split_at_every_byte_boundary_gives_the_same_event(name: str) -> None:
    wire = COMPLETE[name]
    whole = feed(wire)
    assert whole is not NEED_DATA
    for cut in range(len(wire) + 1):
        assert feed(wire[:cut], wire[cut:]) == whole, f"split at {cut}"


def test_a_request_split_at_every_pair_of_boundaries_gives_the_same_event() -> None:
    wire = b"CHECK SPAMC/1.5\r\nContent-length: 12\r\n\r\nSubject: x\r\n"
    whole = feed(wire)
    assert isinstance(whole, Request) and whole.body == b"Subject: x\r\n"
    for first in range(len(wire) + 1):
        for second in range(first, len(wire) + 1):
            assert feed(wire[:first], wire[first:second], wire[second:]) == whole


def test_a_request_that_ends_at_eof_needs_the_eof_at_every_boundary() -> None:
    wire = b"SYMBOLS SPAMC/1.5\r\n\r\n" + MESSAGE  # no Content-length: the body ends at EOF
    for cut in range(len(wire) + 1):
        assert feed(wire[:cut], wire[cut:]) is NEED_DATA
        event = feed(wire[:cut], wire[cut:], eof=True)
        assert isinstance(event, Request) and event.body == MESSAGE, f"split at {cut}"


@pytest.mark.parametrize(
    "after",
    [
        b"GARBAGE\r\n",
        b"\x00\xff" * 5000,
        b"PING SPAMC/1.5\r\n\r\n",  # a second request on the same connection is not read
        b"CHECK SPAMC/1.5\r\nContent-length: 99999999999\r\n\r\n",
    ],
)
def test_bytes_pipelined_after_a_request_do_not_change_it(after: bytes) -> None:
    wire = COMPLETE["check"]
    whole = feed(wire)
    assert isinstance(whole, Request) and whole.body == MESSAGE
    assert feed(wire + after) == whole  # in the same chunk
    assert feed(wire, after) == whole  # in the next one
    for cut in range(0, len(after) + 1, max(1, len(after) // 7)):
        assert feed(wire + after[:cut], after[cut:], eof=True) == whole


def test_garbage_before_the_request_line_ends_is_a_bad_request_at_every_boundary() -> None:
    wire = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    for cut in range(len(wire) + 1):
        event = feed(wire[:cut], wire[cut:])
        assert isinstance(event, ProtocolFailure) and event.status == 76, f"split at {cut}"


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (b"9" * 65, "(Content-Length longer than 64 digits)"),
        (b"9" * 5000, "(request line longer"),  # a header line past max_line_bytes
        (b"1" + b"0" * 30, "(Content-Length mismatch: Expected 1" + "0" * 30),
        (b"-1", "(Content-Length contains non-numeric bytes)"),
        (b"0x10", "(Content-Length contains non-numeric bytes)"),
    ],
)
def test_oversized_or_bad_lengths_fail_cleanly(length: bytes, expected: str) -> None:
    wire = b"CHECK SPAMC/1.5\r\nContent-length: " + length + b"\r\n\r\n" + MESSAGE
    event = feed(wire, eof=True, limits=Limits(max_line_bytes=4096))
    assert isinstance(event, ProtocolFailure), event
    assert event.status == 76
    wanted = expected.replace("request line", "header line")
    assert event.message.startswith("Bad header line: " + wanted), event.message


def test_a_huge_length_to_echo_fails_before_any_body_byte() -> None:
    head = b"PROCESS SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % (10**12)
    for cut in range(len(head) + 1):
        event = feed(head[:cut], head[cut:], limits=Limits(max_body_bytes=1000))  # no body, no EOF
        assert isinstance(event, ProtocolFailure) and event.status == 69, event


def test_a_huge_length_to_scan_keeps_at_most_the_limit_however_it_arrives() -> None:
    limits = Limits(max_body_bytes=1000)
    head = b"CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % (10**12)
    chunks = [head] + [b"Received: x\r\n" * 100] * 50  # 65 KB of a declared terabyte
    assert feed(*chunks, limits=limits) is NEED_DATA  # the length is not reached
    event = feed(*chunks, eof=True, limits=limits)
    assert isinstance(event, ProtocolFailure)
    assert event.message.startswith("Bad header line: (Content-Length mismatch")
    cut = feed(b"".join(chunks)[: len(head) + 1500], limits=Limits(max_body_bytes=1000))
    assert cut is NEED_DATA


def test_a_compressed_body_split_anywhere_inflates_to_the_message() -> None:
    wire = COMPLETE["process-zlib"]
    for cut in range(len(wire) + 1):
        event = feed(wire[:cut], wire[cut:])
        assert isinstance(event, Request), f"split at {cut}"
        assert (event.verb, event.body, event.compressed) == (Verb.PROCESS, MESSAGE, True)
