"""The bad-input catalogue (issue 9 §2): each hostile input over a real socket
and the answer it must get.  docs/robustness.md lists the same table."""

from __future__ import annotations

import errno
import socket
import zlib
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import config_writer
from tests.integration.harness import RunningServer
from tests.integration.load import CLEAN, LISTED

pytestmark = pytest.mark.integration
IO_TIMEOUT_S = 20.0
OK = b"SPAMD/1.1 0 EX_OK\r\n"
BOMB = zlib.compress(b"\0" * 200_000_000, 9)


def hop(ip: bytes) -> bytes:
    return CLEAN.replace(b"192.0.2.10", ip)


def check(body: bytes, verb: bytes = b"CHECK", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return verb + b" SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % size + body


def starts(prefix: bytes) -> Callable[[bytes], bool]:
    return lambda reply: reply.startswith(prefix)


SPAM = starts(OK + b"Spam: True ; 10.0 / 5.0")
HAM = starts(OK + b"Spam: False")
CATALOGUE: list[tuple[str, bytes, Callable[[bytes], bool]]] = [
    (
        "request-line-garbage",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n",
        starts(b"SPAMD/1.0 76 Bad header line: "),
    ),
    (
        "unknown-verb",
        b"SCAN SPAMC/1.5\r\n\r\n",
        starts(b"SPAMD/1.0 76 Bad header line: SCAN SPAMC/1.5"),
    ),
    ("lower-case-verb", b"check SPAMC/1.5\r\n\r\n", starts(b"SPAMD/1.0 76 ")),
    (
        "http-request",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        starts(b"SPAMD/1.0 76 Bad header line: GET / HTTP/1.1"),
    ),
    ("missing-length-with-eof", b"CHECK SPAMC/1.5\r\n\r\n" + LISTED, SPAM),
    (
        "huge-length",
        check(CLEAN, length=10**30),
        starts(b"SPAMD/1.0 76 Bad header line: (Content-Length mismatch"),
    ),
    (
        "negative-length",
        check(CLEAN, length=0).replace(b": 0", b": -1"),
        starts(b"SPAMD/1.0 76 Bad header line: (Content-Length contains non-numeric bytes)"),
    ),
    (
        "body-shorter-than-declared",
        check(CLEAN, length=500),
        starts(
            b"SPAMD/1.0 76 Bad header line: "
            b"(Content-Length mismatch: Expected 500 bytes, got 203 bytes)"
        ),
    ),
    (
        "5000-digit-length",
        check(CLEAN).replace(b"Content-length: 203", b"Content-length: " + b"9" * 5000),
        starts(b"SPAMD/1.0 76 Bad header line: (Content-Length longer than 64 digits)"),
    ),
    (
        "5000-digit-version",
        check(CLEAN).replace(b"SPAMC/1.5", b"SPAMC/1." + b"5" * 5000),
        starts(b"SPAMD/1.0 76 Bad header line: CHECK SPAMC/1.555"),
    ),
    (
        "5000-digit-major-version",
        check(CLEAN).replace(b"SPAMC/1.5", b"SPAMC/" + b"1" * 5000 + b".5"),
        starts(b"SPAMD/1.0 76 Bad header line: CHECK SPAMC/111"),
    ),
    ("body-longer-than-declared", check(LISTED) + b"X" * 10_000, SPAM),
    (
        "header-flood",
        b"CHECK SPAMC/1.5\r\n" + b"X-A: b\r\n" * 10_000 + b"\r\n",
        starts(b"SPAMD/1.0 76 Bad header line: (too many headers)"),
    ),
    (
        "1mb-header-line",
        b"CHECK SPAMC/1.5\r\nUser: " + b"a" * 1_000_000 + b"\r\n\r\n",
        starts(b"SPAMD/1.0 76 Bad header line: (header line longer than 8192 bytes)"),
    ),
    (
        "1mb-request-line",
        b"CHECK " + b"a" * 1_000_000,
        starts(b"SPAMD/1.0 76 Bad header line: (request line longer than 8192 bytes)"),
    ),
    ("nul-in-header-name", b"CHECK SPAMC/1.5\r\nX\x00Y: z\r\n" + check(LISTED)[17:], SPAM),
    (
        "nul-bytes-in-message",
        check(LISTED.replace(b"Subject: test", b"Subject: \x00\x00\x00")),
        SPAM,
    ),
    ("invalid-utf8-user", b"CHECK SPAMC/1.5\r\nUser: \xff\xfe\xc3\r\n" + check(LISTED)[17:], SPAM),
    (
        "invalid-utf8-in-received",
        check(LISTED.replace(b"mail.example.org (", b"\xff\xfe.example (")),
        SPAM,
    ),
    (
        "zlib-bomb-check",
        b"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: %d\r\n\r\n" % len(BOMB) + BOMB,
        HAM,
    ),
    (
        "zlib-bomb-process",
        b"PROCESS SPAMC/1.5\r\nCompress: zlib\r\nContent-length: %d\r\n\r\n" % len(BOMB) + BOMB,
        starts(b"SPAMD/1.0 69 Service Unavailable: message larger than the 512000 bytes allowed"),
    ),
    (
        "zlib-garbage",
        b"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: 5\r\n\r\nhello",
        starts(b"SPAMD/1.0 69 Service Unavailable: zlib: "),
    ),
    (
        "process-too-big",
        check(b"X" * 600_000, verb=b"PROCESS"),
        starts(b"SPAMD/1.0 69 Service Unavailable: message larger"),
    ),
    ("check-too-big-is-cut-and-scanned", check(LISTED + b"X" * 600_000), SPAM),
    ("10000-hops", check(LISTED.split(b"Subject")[0] * 10_000 + b"Subject: x\r\n\r\n"), SPAM),
    ("ipv4-mapped-ipv6", check(hop(b"IPv6:::ffff:192.0.2.99")), SPAM),
    ("scoped-ipv6", check(hop(b"fe80::1%eth0")), HAM),
    ("leading-zero-octets", check(hop(b"192.000.002.099")), HAM),
    ("ipv6-listed", check(hop(b"IPv6:2001:db8:bad::25")), starts(OK + b"Spam: True")),
    ("received-without-ip", check(b"Received: from x by y; now\r\n\r\nbody"), HAM),
    ("empty-message", check(b""), HAM),
]


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    writer = config_writer(tmp_path_factory.mktemp("bad-input"))
    with RunningServer(writer(server="request_timeout_s = 5")) as server:
        yield server.address()[1]


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError as err:  # the server answered early and closed; read what it wrote
            # (a reset shows up at send or at shutdown, as EPIPE, ECONNRESET or ENOTCONN)
            if err.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                raise
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("wire", "expected"), [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE]
)
def test_bad_input(port: int, wire: bytes, expected: Callable[[bytes], bool]) -> None:
    reply = exchange(port, wire)
    assert expected(reply), reply[:200]
    # ... and the service still serves the next client.
    assert exchange(port, check(LISTED)).startswith(OK + b"Spam: True")
