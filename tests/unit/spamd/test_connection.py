"""SpamdConnection: the request side of the conformance checklist (spamd-protocol.md §11).

Every case is fed whole, byte by byte, and in two uneven pieces: the parser
must give the same event whatever the split.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest

from oplguard.errors import Status
from oplguard.spamd.connection import SpamdConnection
from oplguard.spamd.messages import NEED_DATA, Limits, ProtocolFailure, Request, Verb

CLEAN = (
    b"Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n"
    b"\tby mx.example.net (Postfix) with ESMTP id 4XyZ1\r\n"
    b"\tfor <user@example.net>; Tue,  1 Oct 2024 10:00:00 +0000 (UTC)\r\n"
    b"Subject: test\r\n\r\nhello\r\n"
)
LISTED = CLEAN.replace(b"192.0.2.10", b"192.0.2.99")
SPLITS = ["whole", "bytewise", "uneven"]


def pieces(wire: bytes, split: str) -> Iterator[bytes]:
    if split == "whole":
        yield wire
    elif split == "bytewise":
        yield from (wire[i : i + 1] for i in range(len(wire)))
    else:
        cut = len(wire) * 2 // 3
        yield wire[:cut]
        yield wire[cut:]


def parse(
    wire: bytes, split: str = "whole", eof: bool = True, limits: Limits | None = None
) -> Request | ProtocolFailure | None:
    """Feed ``wire``; the first event, or None if the parser still waits."""
    connection = SpamdConnection(limits)
    for piece in pieces(wire, split):
        connection.receive_data(piece)
        event = connection.next_event()
        if event is not NEED_DATA:
            assert isinstance(event, Request | ProtocolFailure)
            return event
    if eof:
        connection.receive_data(b"")
    event = connection.next_event()
    if event is NEED_DATA:
        return None
    assert isinstance(event, Request | ProtocolFailure)
    return event


def request(wire: bytes, split: str = "whole", eof: bool = True, **kw: object) -> Request:
    event = parse(wire, split, eof, **kw)  # type: ignore[arg-type]
    assert isinstance(event, Request), event
    return event


def failure(wire: bytes, split: str = "whole", eof: bool = True, **kw: object) -> str:
    event = parse(wire, split, eof, **kw)  # type: ignore[arg-type]
    assert isinstance(event, ProtocolFailure), event
    return f"{int(event.status)} {event.message}"


def check(body: bytes, length: int | None = None, version: str = "1.5") -> bytes:
    size = len(body) if length is None else length
    return b"CHECK SPAMC/%s\r\nContent-length: %d\r\n\r\n" % (version.encode(), size) + body


@pytest.mark.parametrize("split", SPLITS)
class TestChecklist:
    def test_1_ping_15_without_eof(self, split: str) -> None:
        ping = request(b"PING SPAMC/1.5\r\n\r\n", split, eof=False)
        assert (ping.verb, ping.version) == (Verb.PING, (1, 5))

    def test_2_old_ping_needs_no_more_input(self, split: str) -> None:
        ping = request(b"PING SPAMC/1.2\r\n", split, eof=False)
        assert (ping.verb, ping.version) == (Verb.PING, (1, 2))

    def test_3_check_with_length_without_eof(self, split: str) -> None:
        check_ = request(check(CLEAN), split, eof=False)
        assert (check_.verb, check_.body, check_.content_length) == (Verb.CHECK, CLEAN, 203)

    def test_5_user_header(self, split: str) -> None:
        wire = b"SYMBOLS SPAMC/1.5\r\nUser: alice\r\nContent-length: 203\r\n\r\n" + LISTED
        symbols = request(wire, split, eof=False)
        assert (symbols.verb, symbols.user, symbols.body) == (Verb.SYMBOLS, "alice", LISTED)

    def test_7_milter_style_no_length_reads_to_eof(self, split: str) -> None:
        wire = b"SYMBOLS SPAMC/1.2\r\nUser: nobody\r\n\r\n" + LISTED
        assert parse(wire, split, eof=False) is None
        symbols = request(wire, split)
        assert (symbols.body, symbols.version, symbols.content_length) == (LISTED, (1, 2), None)

    def test_8_exim_report_12(self, split: str) -> None:
        wire = b"REPORT SPAMC/1.2\r\nUser: nobody\r\nContent-length: 203\r\n\r\n" + LISTED
        assert request(wire, split).verb is Verb.REPORT

    @pytest.mark.parametrize(
        "verb", [Verb.REPORT_IFSPAM, Verb.PROCESS, Verb.HEADERS, Verb.REPORT, Verb.SYMBOLS]
    )
    def test_9_to_15_scan_verbs(self, split: str, verb: Verb) -> None:
        wire = check(CLEAN).replace(b"CHECK", verb.value.encode(), 1)
        assert request(wire, split, eof=False).verb is verb

    def test_14_process_10_has_no_headers(self, split: str) -> None:
        process = request(b"PROCESS SPAMC/1.0\r\n" + CLEAN, split)
        assert (process.version, process.body) == ((1, 0), CLEAN)

    def test_16_check_10_body_starts_after_request_line(self, split: str) -> None:
        assert request(b"CHECK SPAMC/1.0\r\n" + CLEAN, split).body == CLEAN

    def test_17_short_body_then_eof(self, split: str) -> None:
        assert failure(check(CLEAN, 300), split) == (
            "76 Bad header line: (Content-Length mismatch: Expected 300 bytes, got 203 bytes)"
        )

    def test_17_short_body_without_eof_waits(self, split: str) -> None:
        assert parse(check(CLEAN, 300), split, eof=False) is None

    def test_18_bytes_beyond_length_are_ignored(self, split: str) -> None:
        assert request(check(CLEAN) + b"\r\n", split, eof=False).body == CLEAN

    def test_19_no_length_reads_to_eof(self, split: str) -> None:
        assert request(b"CHECK SPAMC/1.5\r\n\r\n" + CLEAN, split).body == CLEAN

    @pytest.mark.parametrize(
        "line", [b"FOO SPAMC/1.5", b"check SPAMC/1.5", b"CHECK RSPAMC/1.3", b"CHECK SPAMC/2.0"]
    )
    def test_20_38_unknown_command_or_dialect_is_echoed(self, split: str, line: bytes) -> None:
        assert failure(line + b"\r\n\r\n", split) == f"76 Bad header line: {line.decode()}"

    def test_21_non_numeric_length(self, split: str) -> None:
        assert failure(b"CHECK SPAMC/1.5\r\nContent-length: 2o3\r\n\r\n", split) == (
            "76 Bad header line: (Content-Length contains non-numeric bytes)"
        )

    @pytest.mark.parametrize("value", [b"-1", b"1 2", b"0x10"])
    def test_21_negative_or_spaced_length(self, split: str, value: bytes) -> None:
        wire = b"CHECK SPAMC/1.5\r\nContent-length: " + value + b"\r\n\r\n"
        assert "non-numeric" in failure(wire, split)

    def test_22_header_without_colon(self, split: str) -> None:
        assert failure(b"CHECK SPAMC/1.5\r\nbogus\r\n\r\n", split) == (
            "76 Bad header line: (header not in 'Name: value' format)"
        )

    def test_23_eof_during_headers(self, split: str) -> None:
        assert failure(b"CHECK SPAMC/1.5\r\nUser: x\r\n", split) == (
            "76 Bad header line: (EOF during headers)"
        )

    def test_25_too_many_headers(self, split: str) -> None:
        pads = b"X-Pad: 1\r\n" * 255
        wire = b"CHECK SPAMC/1.5\r\n" + pads + b"Content-length: 203\r\n\r\n" + CLEAN
        assert failure(wire, split) == "76 Bad header line: (too many headers)"

    def test_25_255_header_lines_are_fine(self, split: str) -> None:
        pads = b"X-Pad: 1\r\n" * 254
        wire = b"CHECK SPAMC/1.5\r\n" + pads + b"Content-length: 203\r\n\r\n" + CLEAN
        assert request(wire, split, eof=False).body == CLEAN

    @pytest.mark.parametrize("eof", [True, False])
    def test_26_zlib(self, split: str, eof: bool) -> None:
        packed = zlib.compress(CLEAN)
        wire = b"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: %d\r\n\r\n" % len(packed)
        inflated = request(wire + packed, split, eof=eof)
        assert (inflated.body, inflated.compressed) == (CLEAN, True)

    def test_27_compress_needs_length(self, split: str) -> None:
        wire = b"CHECK SPAMC/1.5\r\nCompress: zlib\r\n\r\n" + zlib.compress(CLEAN)
        assert failure(wire, split) == (
            "69 Service Unavailable: Compress requires Content-length header"
        )

    def test_28_other_compression(self, split: str) -> None:
        wire = b"CHECK SPAMC/1.5\r\nCompress: gzip\r\nContent-length: 1\r\n\r\nx"
        assert failure(wire, split) == (
            "76 Bad header line: (compression type not supported: gzip)"
        )

    def test_29_tell_headers(self, split: str) -> None:
        wire = b"TELL SPAMC/1.5\r\nMessage-class: spam\r\nSet: local, remote\r\n"
        tell = request(wire + b"Content-length: 203\r\n\r\n" + CLEAN, split, eof=False)
        assert (tell.verb, tell.message_class, tell.set_local, tell.set_remote) == (
            Verb.TELL,
            "spam",
            True,
            True,
        )
        assert not (tell.remove_local or tell.remove_remote)

    def test_30_set_and_remove_local(self, split: str) -> None:
        wire = b"TELL SPAMC/1.5\r\nSet: local\r\nRemove: local\r\nContent-length: 0\r\n\r\n"
        assert failure(wire, split) == (
            "76 Bad header line: Unable to set local and remove local in the same operation."
        )

    def test_31_skip(self, split: str) -> None:
        assert request(b"SKIP SPAMC/1.5\r\n\r\n", split, eof=False).verb is Verb.SKIP

    def test_32_user_with_control_chars(self, split: str) -> None:
        assert failure(b"CHECK SPAMC/1.5\r\nUser: a\x01b\r\n\r\n", split) == (
            "76 Bad header line: (User header contains control chars)"
        )

    def test_33_content_length_in_any_case(self, split: str) -> None:
        wire = check(CLEAN).replace(b"Content-length", b"Content-Length")
        assert request(wire, split, eof=False).body == CLEAN

    def test_35_bare_lf_lines(self, split: str) -> None:
        wire = b"CHECK SPAMC/1.5\nContent-length: 203\n\n" + CLEAN
        assert request(wire, split, eof=False).body == CLEAN


def test_24_eof_before_anything() -> None:
    assert failure(b"") == "76 Bad header line: (closed before headers)"


def test_request_line_without_newline_at_eof_is_still_read() -> None:
    assert request(b"PING SPAMC/1.2").verb is Verb.PING


def test_empty_length_zero_body_is_answered_at_once() -> None:
    empty = request(b"CHECK SPAMC/1.5\r\nContent-length: 0\r\n\r\n", eof=False)
    assert empty.body == b""


def test_newer_minor_version_is_treated_as_15() -> None:
    assert request(b"PING SPAMC/1.7\r\n\r\n", eof=False).version == (1, 5)


def test_last_repeated_header_wins() -> None:
    wire = b"CHECK SPAMC/1.5\r\nUser: a\r\nUser: b\r\nContent-length: 0\r\n\r\n"
    assert request(wire, eof=False).user == "b"


def test_message_class_other_than_spam_is_ham() -> None:
    wire = b"TELL SPAMC/1.5\r\nMessage-class: SPAM\r\nSet: local\r\nContent-length: 0\r\n\r\n"
    assert request(wire, eof=False).message_class == "ham"


class TestLimits:
    LIMITS = Limits(max_body_bytes=100, max_line_bytes=64, max_header_lines=255)

    def test_scan_body_past_the_limit_is_cut(self) -> None:
        cut = request(check(CLEAN), limits=self.LIMITS, eof=False)
        assert (cut.body, cut.body_truncated) == (CLEAN[:100], True)

    def test_scan_body_without_length_past_the_limit_is_cut_at_eof(self) -> None:
        wire = b"CHECK SPAMC/1.5\r\n\r\n" + CLEAN * 50
        cut = request(wire, "uneven", limits=self.LIMITS)
        assert (len(cut.body), cut.body_truncated) == (100, True)

    def test_process_body_past_the_limit_fails_before_reading_it(self) -> None:
        wire = b"PROCESS SPAMC/1.5\r\nContent-length: 203\r\n\r\n"
        assert failure(wire, limits=self.LIMITS, eof=False).startswith(
            "69 Service Unavailable: message larger than the 100 bytes allowed"
        )

    def test_process_without_length_fails_once_past_the_limit(self) -> None:
        wire = b"PROCESS SPAMC/1.5\r\n\r\n" + CLEAN
        assert failure(wire, "bytewise", limits=self.LIMITS, eof=False).startswith("69 ")

    def test_zlib_bomb_is_not_inflated_past_the_limit(self) -> None:
        bomb = zlib.compress(b"\0" * 50_000_000, 9)
        wire = b"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: %d\r\n\r\n" % len(bomb)
        cut = request(wire + bomb, eof=False, limits=Limits(max_body_bytes=1000))
        assert (len(cut.body), cut.body_truncated) == (1000, True)

    def test_zlib_bomb_for_process_fails(self) -> None:
        bomb = zlib.compress(b"\0" * 50_000_000, 9)
        wire = b"PROCESS SPAMC/1.5\r\nCompress: zlib\r\nContent-length: %d\r\n\r\n" % len(bomb)
        assert failure(wire + bomb, eof=False, limits=Limits(max_body_bytes=1000)).startswith(
            "69 Service Unavailable: message larger"
        )

    def test_broken_zlib_stream(self) -> None:
        wire = b"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: 5\r\n\r\nhello"
        assert failure(wire, eof=False).startswith("69 Service Unavailable: zlib: ")

    def test_truncated_zlib_stream(self) -> None:
        packed = zlib.compress(CLEAN)[:-6]
        wire = b"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: %d\r\n\r\n" % len(packed)
        assert failure(wire + packed, eof=False) == (
            "69 Service Unavailable: zlib: incomplete compressed stream"
        )

    def test_request_line_too_long(self) -> None:
        assert failure(b"X" * 100, eof=False, limits=self.LIMITS) == (
            "76 Bad header line: (request line longer than 64 bytes)"
        )

    def test_header_line_too_long(self) -> None:
        wire = b"CHECK SPAMC/1.5\r\nUser: " + b"a" * 100
        assert failure(wire, eof=False, limits=self.LIMITS) == (
            "76 Bad header line: (header line longer than 64 bytes)"
        )

    def test_garbage_is_echoed_printable_and_bounded(self) -> None:
        text = failure(b"\x00\xff\x1b[31m" + b"A" * 500 + b"\r\n")
        assert text.startswith("76 Bad header line: ???[31mAAA")
        assert len(text) < 300


def test_events_repeat_and_later_bytes_are_ignored() -> None:
    connection = SpamdConnection()
    connection.receive_data(b"PING SPAMC/1.5\r\n\r\n")
    first = connection.next_event()
    connection.receive_data(b"garbage")
    assert connection.next_event() is first


def test_statuses_are_ints() -> None:
    event = parse(b"FOO\r\n")
    assert isinstance(event, ProtocolFailure)
    assert event.status is Status.EX_PROTOCOL
