"""Postfix policy protocol: framing in every split, limits, bad input, replies."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from oplguard.errors import LocalProtocolError, RemoteProtocolError
from oplguard.policyd.protocol import (
    CLOSED,
    MAX_ATTRIBUTES,
    MAX_LINE_BYTES,
    NEED_DATA,
    Marker,
    PolicyConnection,
    PolicyRequest,
    render_reply,
)

# What Postfix 3.7 sends for RCPT TO (SMTPD_POLICY_README), trimmed.
REQUEST = (
    b"request=smtpd_access_policy\n"
    b"protocol_state=RCPT\n"
    b"protocol_name=ESMTP\n"
    b"client_address=192.0.2.99\n"
    b"client_name=unknown\n"
    b"helo_name=proxy.example.org\n"
    b"sender=alice@example.org\n"
    b"recipient=user@test.example\n"
    b"queue_id=\n"
    b"policy_context=a=b\n"
    b"\n"
)


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def at_newlines(data: bytes) -> list[bytes]:
    return [line for line in data.splitlines(keepends=True)]


SPLITS: list[Callable[[bytes], list[bytes]]] = [whole, bytewise, at_newlines]
SPLIT_IDS = ["whole", "byte-by-byte", "at-each-newline"]


def feed(data: bytes, split: Callable[[bytes], list[bytes]], eof: bool = True) -> list[object]:
    """Every event the connection yields for ``data`` fed in ``split`` pieces."""
    connection = PolicyConnection()
    events: list[object] = []
    for piece in [*split(data), *([b""] if eof else [])]:
        connection.receive_data(piece)
        while (event := connection.next_event()) is not NEED_DATA:
            events.append(event)
            if event is CLOSED:
                return events
    return events


@pytest.mark.parametrize("split", SPLITS, ids=SPLIT_IDS)
def test_one_request_then_close(split: Callable[[bytes], list[bytes]]) -> None:
    events = feed(REQUEST, split)
    assert len(events) == 2
    request, closed = events
    assert isinstance(request, PolicyRequest)
    assert request.get("client_address") == "192.0.2.99"
    assert request.get("queue_id") == ""
    assert request.attributes[0] == ("request", "smtpd_access_policy")
    assert closed is CLOSED


@pytest.mark.parametrize("split", SPLITS, ids=SPLIT_IDS)
def test_several_requests_on_one_connection(split: Callable[[bytes], list[bytes]]) -> None:
    second = REQUEST.replace(b"192.0.2.99", b"198.51.100.7")
    events = feed(REQUEST + second + REQUEST, split)
    addresses = [e.get("client_address") for e in events if isinstance(e, PolicyRequest)]
    assert addresses == ["192.0.2.99", "198.51.100.7", "192.0.2.99"]
    assert events[-1] is CLOSED


def test_value_keeps_every_equals_sign_after_the_first() -> None:
    (request, _) = feed(REQUEST, whole)
    assert isinstance(request, PolicyRequest)
    assert request.get("policy_context") == "a=b"


def test_crlf_lines_are_accepted() -> None:
    (request, _) = feed(REQUEST.replace(b"\n", b"\r\n"), whole)
    assert isinstance(request, PolicyRequest)
    assert request.get("client_name") == "unknown"


def test_missing_attribute_reads_as_default() -> None:
    (request, _) = feed(b"request=smtpd_access_policy\n\n", whole)
    assert isinstance(request, PolicyRequest)
    assert request.get("client_address") == ""
    assert request.get("client_address", "-") == "-"


def test_repeated_attribute_last_one_wins() -> None:
    data = b"request=smtpd_access_policy\nclient_address=1.2.3.4\nclient_address=192.0.2.99\n\n"
    (request, _) = feed(data, whole)
    assert isinstance(request, PolicyRequest)
    assert request.get("client_address") == "192.0.2.99"


def test_utf8_and_invalid_bytes_never_crash() -> None:
    data = b"request=smtpd_access_policy\nsender=j\xc3\xb6rg@example.org\nhelo_name=\xff\xfe\n\n"
    (request, _) = feed(data, whole)
    assert isinstance(request, PolicyRequest)
    assert request.get("sender") == "jörg@example.org"
    assert request.get("helo_name") == "\ufffd\ufffd"


def test_waits_for_the_blank_line() -> None:
    connection = PolicyConnection()
    connection.receive_data(REQUEST[:-1])
    assert connection.next_event() is NEED_DATA
    assert connection.in_request
    connection.receive_data(b"\n")
    assert isinstance(connection.next_event(), PolicyRequest)
    assert not connection.in_request


def test_close_between_requests_is_clean() -> None:
    assert feed(b"", whole) == [CLOSED]


@pytest.mark.parametrize(
    "cut", [1, len(b"request=smtpd"), REQUEST.index(b"client_name"), len(REQUEST) - 1]
)
def test_hang_up_in_the_middle_of_a_request_is_reported(cut: int) -> None:
    with pytest.raises(RemoteProtocolError, match="middle of a request"):
        feed(REQUEST[:cut], whole)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"request=smtpd_access_policy\nno equals sign\n\n", "not a name=value line"),
        (b"request=smtpd_access_policy\n=value\n\n", "not a name=value line"),
        (b"request=smtpd_access_policy\nclient address=1\n\n", "not a name=value line"),
        (b"request=smtpd_access_policy\nGET / HTTP/1.0\n\n", "not a name=value line"),
        (b"client_address=192.0.2.99\n\n", "unknown request type ''"),
        (b"request=junk\n\n", "unknown request type 'junk'"),
        (b"\n", "empty request"),
    ],
    ids=["no-equals", "empty-name", "space-in-name", "http", "no-request", "bad-type", "blank"],
)
def test_malformed_requests_are_protocol_errors(data: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        feed(data, whole)


def test_overlong_line_is_refused_before_its_newline() -> None:
    connection = PolicyConnection()
    connection.receive_data(b"request=" + b"x" * (MAX_LINE_BYTES + 1))
    with pytest.raises(RemoteProtocolError, match="longer than"):
        connection.next_event()


def test_overlong_complete_line_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="longer than"):
        feed(b"sender=" + b"x" * MAX_LINE_BYTES + b"\n\n", whole)


def test_too_many_attributes_are_refused() -> None:
    data = b"request=smtpd_access_policy\n" + b"x=1\n" * MAX_ATTRIBUTES + b"\n"
    with pytest.raises(RemoteProtocolError, match="more than"):
        feed(data, whole)


@pytest.mark.parametrize(
    ("action", "wire"),
    [
        ("DUNNO", b"action=DUNNO\n\n"),
        ("REJECT 5.7.1 listed", b"action=REJECT 5.7.1 listed\n\n"),
        ("DEFER_IF_PERMIT 4.7.1 try later", b"action=DEFER_IF_PERMIT 4.7.1 try later\n\n"),
    ],
)
def test_reply_is_one_action_line_and_a_blank_line(action: str, wire: bytes) -> None:
    assert render_reply(action) == wire


@pytest.mark.parametrize("action", ["", "REJECT a\nb", "REJECT a\rb", "REJECT \x00"])
def test_reply_that_would_break_framing_is_our_bug(action: str) -> None:
    with pytest.raises(LocalProtocolError):
        render_reply(action)


def test_markers_are_distinct() -> None:
    assert isinstance(NEED_DATA, Marker)
    assert NEED_DATA is not CLOSED
