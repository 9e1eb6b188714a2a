"""Property tests of the spamd parser: whatever the bytes and however they
are split, it ends in exactly one event, never raises and never holds more
than its limits allow."""

from __future__ import annotations

import zlib

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oplguard.errors import Status
from oplguard.spamd.connection import SpamdConnection
from oplguard.spamd.messages import (
    NEED_DATA,
    Limits,
    ProtocolFailure,
    Request,
    ScanResult,
    TellResult,
    Verb,
)
from oplguard.spamd.render import render_error, render_response
from tests.fuzz.corpus import MESSAGE, spamd_requests

LIMITS = Limits(max_body_bytes=4096, max_line_bytes=512, max_header_lines=32)
SEEDS = spamd_requests()


def feed(chunks: list[bytes], eof: bool) -> Request | ProtocolFailure | None:
    connection = SpamdConnection(LIMITS)
    for chunk in chunks:
        connection.receive_data(chunk)
        # Memory stays bounded: the parser never buffers more than a line limit
        # plus one chunk before it has to decide.
        assert len(connection._buffer) <= LIMITS.max_line_bytes + len(chunk) + 2
        event = connection.next_event()
        if event is not NEED_DATA:
            assert isinstance(event, Request | ProtocolFailure)
            return event
    if eof:
        connection.receive_data(b"")
        event = connection.next_event()
        # After EOF the parser always decides.
        assert event is not NEED_DATA
        assert isinstance(event, Request | ProtocolFailure)
        return event
    return None


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return [piece for piece in pieces if piece]


def check_event(event: Request | ProtocolFailure | None) -> None:
    if isinstance(event, ProtocolFailure):
        line = render_error(event)
        assert line.startswith(b"SPAMD/1.0 ")
        assert line.endswith(b"\r\n")
        assert line.count(b"\n") == 1
        assert event.status in (Status.EX_PROTOCOL, Status.EX_UNAVAILABLE)
    elif isinstance(event, Request):
        assert len(event.body) <= LIMITS.max_body_bytes
        result: ScanResult | TellResult | None = None
        if event.verb is Verb.TELL:
            result = TellResult()
        elif event.verb not in (Verb.PING, Verb.SKIP):
            result = ScanResult(1.0, 5.0, ("A",), "r\n", event.body)
        reply = render_response(event, result)
        assert reply == b"" or reply.startswith(b"SPAMD/1.")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.lists(st.integers(min_value=0), max_size=8), st.booleans())
def test_random_bytes_never_crash(data: bytes, cuts: list[int], eof: bool) -> None:
    check_event(feed(split(data, cuts), eof))


@st.composite
def mutated_request(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        where = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "dup"]))
        if action == "flip" and data:
            data[where] = draw(st.integers(min_value=0, max_value=255))
        elif action == "insert":
            data[where:where] = draw(
                st.sampled_from(
                    [b"\r\n", b"\n", b":", b"\x00", b"\xff", b"Content-length: 99999\r\n", b"1"]
                )
            )
        elif action == "delete":
            del data[where : where + draw(st.integers(min_value=1, max_value=16))]
        else:
            data[where:where] = data[where : where + 64]
    return bytes(data)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_request(), st.lists(st.integers(min_value=0), max_size=8), st.booleans())
@example(b"CHECK SPAMC/1.5\r\nContent-length: 18446744073709551616\r\n\r\n", [], True)
@example(b"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: 3\r\n\r\n\x78\x9c\x03", [], False)
def test_mutated_client_requests_never_crash(data: bytes, cuts: list[int], eof: bool) -> None:
    check_event(feed(split(data, cuts), eof))


@settings(max_examples=100)
@given(st.integers(min_value=0, max_value=200_000), st.sampled_from([Verb.CHECK, Verb.PROCESS]))
def test_inflated_size_is_bounded_whatever_the_payload(size: int, verb: Verb) -> None:
    packed = zlib.compress(b"A" * size, 9)
    wire = b"%s SPAMC/1.5\r\nCompress: zlib\r\nContent-length: %d\r\n\r\n" % (
        verb.value.encode(),
        len(packed),
    )
    event = feed([wire + packed], eof=False)
    if size <= LIMITS.max_body_bytes:
        assert isinstance(event, Request)
        assert event.body == b"A" * size
    elif verb is Verb.CHECK:
        assert isinstance(event, Request)
        assert event.body_truncated
        assert len(event.body) == LIMITS.max_body_bytes
    else:
        assert isinstance(event, ProtocolFailure)
        assert event.status is Status.EX_UNAVAILABLE


@given(st.sampled_from(SEEDS), st.lists(st.integers(min_value=0), max_size=12))
def test_valid_requests_parse_the_same_however_split(data: bytes, cuts: list[int]) -> None:
    assert feed(split(data, cuts), eof=True) == feed([data], eof=True)
    assert MESSAGE  # seeds carry the conformance message
