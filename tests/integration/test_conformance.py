"""The checklist of spamd-protocol.md §11 over a real socket, against ``oplguard serve``.

Fixtures as in spamd-protocol.md §11: threshold 5.0, 192.0.2.99 on the sample OPL, a hit
scores 10.0 (rule OPL_CONNECTING here), no trusted networks.  "eof" means
the client half-closes after sending; "open" means it keeps its side open.
"""

from __future__ import annotations

import re
import socket
import zlib
from collections.abc import Iterator

import pytest

from tests.conftest import config_writer
from tests.integration.harness import RunningServer

pytestmark = pytest.mark.integration
IO_TIMEOUT_S = 10.0
CLEAN = (
    b"Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n"
    b"\tby mx.example.net (Postfix) with ESMTP id 4XyZ1\r\n"
    b"\tfor <user@example.net>; Tue,  1 Oct 2024 10:00:00 +0000 (UTC)\r\n"
    b"Subject: test\r\n\r\nhello\r\n"
)
LISTED = CLEAN.replace(b"192.0.2.10", b"192.0.2.99")
HAM = b"Spam: False ; 0.0 / 5.0\r\n"
SPAM = b"Spam: True ; 10.0 / 5.0\r\n"
OK = b"SPAMD/1.1 0 EX_OK\r\n"


def length(body: bytes) -> bytes:
    return b"Content-length: %d\r\n" % len(body)


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    writer = config_writer(tmp_path_factory.mktemp("conformance"))
    with RunningServer(writer(server="allow_tell = false")) as server:
        yield server.address()[1]


def exchange(port: int, data: bytes, eof: bool) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        sock.sendall(data)
        if eof:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


CHECK_CLEAN = b"CHECK SPAMC/1.5\r\n" + length(CLEAN) + b"\r\n" + CLEAN
ZIPPED = zlib.compress(CLEAN, 3)
EXACT = [
    ("1", b"PING SPAMC/1.5\r\n\r\n", (False,), b"SPAMD/1.5 0 PONG\r\n"),
    ("2", b"PING SPAMC/1.2\r\n", (False,), b"SPAMD/1.5 0 PONG\r\n"),
    ("3", CHECK_CLEAN, (False, True), OK + HAM + b"\r\n"),
    ("4", CHECK_CLEAN.replace(CLEAN, LISTED), (False, True), OK + SPAM + b"\r\n"),
    (
        "5",
        b"SYMBOLS SPAMC/1.5\r\nUser: alice\r\nContent-length: 203\r\n\r\n" + LISTED,
        (False, True),
        OK + b"Content-length: 14\r\n" + SPAM + b"\r\nOPL_CONNECTING",
    ),
    (
        "6",
        b"SYMBOLS SPAMC/1.5\r\nUser: alice\r\nContent-length: 203\r\n\r\n" + CLEAN,
        (False,),
        OK + b"Content-length: 0\r\n" + HAM + b"\r\n",
    ),
    (
        "7",
        b"SYMBOLS SPAMC/1.2\r\nUser: nobody\r\n\r\n" + LISTED,
        (True,),
        OK + SPAM + b"\r\nOPL_CONNECTING\r\n",
    ),
    (
        "10",
        b"REPORT_IFSPAM SPAMC/1.5\r\n" + length(CLEAN) + b"\r\n" + CLEAN,
        (False,),
        OK + b"Content-length: 0\r\nSpam: No ; 0.0 / 5.0\r\n\r\n",
    ),
    ("16", b"CHECK SPAMC/1.0\r\n" + CLEAN, (True,), OK + HAM + b"\r\n"),
    (
        "17",
        b"CHECK SPAMC/1.5\r\nContent-length: 300\r\n\r\n" + CLEAN,
        (True,),
        b"SPAMD/1.0 76 Bad header line: (Content-Length mismatch: "
        b"Expected 300 bytes, got 203 bytes)\r\n",
    ),
    ("18", CHECK_CLEAN + b"\r\n", (False,), OK + HAM + b"\r\n"),
    ("19", b"CHECK SPAMC/1.5\r\n\r\n" + CLEAN, (True,), OK + HAM + b"\r\n"),
    (
        "20",
        b"FOO SPAMC/1.5\r\n\r\n",
        (False, True),
        b"SPAMD/1.0 76 Bad header line: FOO SPAMC/1.5\r\n",
    ),
    (
        "21",
        b"CHECK SPAMC/1.5\r\nContent-length: 2o3\r\n\r\n",
        (False,),
        b"SPAMD/1.0 76 Bad header line: (Content-Length contains non-numeric bytes)\r\n",
    ),
    (
        "22",
        b"CHECK SPAMC/1.5\r\nbogus\r\n\r\n",
        (False,),
        b"SPAMD/1.0 76 Bad header line: (header not in 'Name: value' format)\r\n",
    ),
    (
        "23",
        b"CHECK SPAMC/1.5\r\nUser: x\r\n",
        (True,),
        b"SPAMD/1.0 76 Bad header line: (EOF during headers)\r\n",
    ),
    ("24", b"", (True,), b"SPAMD/1.0 76 Bad header line: (closed before headers)\r\n"),
    (
        "25",
        b"CHECK SPAMC/1.5\r\n" + b"X-Pad: 1\r\n" * 255 + length(CLEAN) + b"\r\n" + CLEAN,
        (False,),
        b"SPAMD/1.0 76 Bad header line: (too many headers)\r\n",
    ),
    (
        "25-ok",
        b"CHECK SPAMC/1.5\r\n" + b"X-Pad: 1\r\n" * 254 + length(CLEAN) + b"\r\n" + CLEAN,
        (False,),
        OK + HAM + b"\r\n",
    ),
    (
        "26",
        b"CHECK SPAMC/1.5\r\nCompress: zlib\r\n" + length(ZIPPED) + b"\r\n" + ZIPPED,
        (False, True),
        OK + HAM + b"\r\n",
    ),
    (
        "27",
        b"CHECK SPAMC/1.5\r\nCompress: zlib\r\n\r\n" + ZIPPED,
        (True,),
        b"SPAMD/1.0 69 Service Unavailable: Compress requires Content-length header\r\n",
    ),
    (
        "28",
        b"CHECK SPAMC/1.5\r\nCompress: gzip\r\nContent-length: 1\r\n\r\nx",
        (False,),
        b"SPAMD/1.0 76 Bad header line: (compression type not supported: gzip)\r\n",
    ),
    (
        "29",
        b"TELL SPAMC/1.5\r\nMessage-class: spam\r\nSet: local\r\n"
        + length(CLEAN)
        + b"\r\n"
        + CLEAN,
        (False,),
        b"SPAMD/1.0 69 Service Unavailable: TELL commands are not enabled, "
        b"set the --allow-tell switch.\r\n",
    ),
    (
        "30",
        b"TELL SPAMC/1.5\r\nSet: local\r\nRemove: local\r\nContent-length: 0\r\n\r\n",
        (False,),
        b"SPAMD/1.0 76 Bad header line: Unable to set local and remove local "
        b"in the same operation.\r\n",
    ),
    ("31", b"SKIP SPAMC/1.5\r\n\r\n", (False,), b""),
    (
        "32",
        b"CHECK SPAMC/1.5\r\nUser: a\x01b\r\n\r\n",
        (False,),
        b"SPAMD/1.0 76 Bad header line: (User header contains control chars)\r\n",
    ),
    ("33", CHECK_CLEAN.replace(b"Content-length", b"Content-Length"), (False,), OK + HAM + b"\r\n"),
    (
        "35",
        b"CHECK SPAMC/1.5\n" + length(CLEAN) + b"\r\n" + CLEAN,
        (False,),
        OK + HAM + b"\r\n",
    ),
    (
        "38",
        b"CHECK RSPAMC/1.3\r\nContent-length: 0\r\n\r\n",
        (False,),
        b"SPAMD/1.0 76 Bad header line: CHECK RSPAMC/1.3\r\n",
    ),
]
CASES = [
    pytest.param(wire, eof, expected, id=f"case-{case}-{'eof' if eof else 'open'}")
    for case, wire, modes, expected in EXACT
    for eof in modes
]


@pytest.mark.parametrize(("wire", "eof", "expected"), CASES)
def test_exact_reply(port: int, wire: bytes, eof: bool, expected: bytes) -> None:
    assert exchange(port, wire, eof) == expected


def test_case_8_exim_report_12_has_no_content_length(port: int) -> None:
    wire = b"REPORT SPAMC/1.2\r\nUser: nobody\r\nContent-length: 203\r\n\r\n" + LISTED
    reply = exchange(port, wire, eof=True)
    assert reply.startswith(OK + SPAM + b"\r\n")
    assert b"Content-length" not in reply
    assert b"192.0.2.99" in reply


@pytest.mark.parametrize("verb", [b"REPORT", b"REPORT_IFSPAM"])
def test_case_9_11_report_length_matches(port: int, verb: bytes) -> None:
    reply = exchange(port, verb + b" SPAMC/1.5\r\n" + length(LISTED) + b"\r\n" + LISTED, False)
    head, _, body = reply.partition(b"\r\n\r\n")
    flag = b"Yes" if verb == b"REPORT_IFSPAM" else b"True"
    assert head == b"SPAMD/1.1 0 EX_OK\r\nContent-length: %d\r\nSpam: %s ; 10.0 / 5.0" % (
        len(body),
        flag,
    )
    assert b"192.0.2.99 at hop 1" in body


def test_case_12_process_15_adds_status_and_keeps_body(port: int) -> None:
    reply = exchange(port, b"PROCESS SPAMC/1.5\r\n" + length(CLEAN) + b"\r\n" + CLEAN, False)
    match = re.match(
        rb"SPAMD/1.1 0 EX_OK\r\nContent-length: (\d+)\r\n" + re.escape(HAM) + rb"\r\n", reply
    )
    assert match is not None
    message = reply[match.end() :]
    assert len(message) == int(match.group(1))
    assert b"\r\nX-Spam-Status: No, score=0.0 required=5.0" in message
    assert message.endswith(b"\r\n\r\nhello\r\n")


def test_case_13_process_12_has_no_spam_header(port: int) -> None:
    reply = exchange(port, b"PROCESS SPAMC/1.2\r\n" + length(CLEAN) + b"\r\n" + CLEAN, True)
    head, _, message = reply.partition(b"\r\n\r\n")
    assert re.fullmatch(rb"SPAMD/1.1 0 EX_OK\r\nContent-length: (\d+)", head)
    assert message.endswith(b"hello\r\n")


def test_case_14_process_10_has_no_header_block(port: int) -> None:
    reply = exchange(port, b"PROCESS SPAMC/1.0\r\n" + CLEAN, True)
    assert reply.startswith(b"SPAMD/1.0 0 EX_OK\r\nReceived: from mail.example.org")
    assert b"X-Spam-Status: No" in reply


def test_case_15_headers_stops_at_the_header_section(port: int) -> None:
    reply = exchange(port, b"HEADERS SPAMC/1.5\r\n" + length(CLEAN) + b"\r\n" + CLEAN, False)
    head, _, message = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"SPAMD/1.1 0 EX_OK\r\nContent-length: ")
    assert message.endswith(b"\r\n\r\n")
    assert b"hello" not in message
    assert int(head.split(b"\r\n")[1].split(b": ")[1]) == len(message)
