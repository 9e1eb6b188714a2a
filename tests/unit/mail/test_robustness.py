"""Hostile input: garbage never raises, pathological shapes finish quickly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.fuzz.guards import no_hang

from oplguard.mail.limits import MAX_HEADER_BYTES
from oplguard.mail.received import (
    MAX_RECEIVED_CHARS,
    Fetch,
    Relay,
    Skipped,
    Unparseable,
    parse_received,
)
from oplguard.mail.relays import MAX_RECEIVED_HEADERS, TrustSettings, build_chain

HOPS = 10_000
N = MAX_RECEIVED_CHARS

FRAGMENTS = [
    "[", "]", "(", ")", " ", "\t", "\r\n ", "1", ".", ":", "@", ";", "%", "<", ">", "by ",
    "from ", "FROM ", "(from ", "with ", "helo=", "HELO ", "SMTP", "ESMTPSA", " id ", "IPv6:",
    "192.0.2.1", "::ffff:10.0.0.1", "2001:db8::1", "fe80::1%5", "Exim", "(Postfix) with",
    "authenticated", "(AUTH: LOGIN x)", "SMTPSVC", "with Microsoft SMTP Server 15.20.1.1 ",
    "(qmail-ldap-1.03)", "envelope-from <", "with IMAP", "localhost", "\xe9", "\x00",
]  # fmt: skip
garbage = st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join)

PATHOLOGICAL = {
    "brackets": "from " + "[" * N,
    "parens": "from " + "(" * N,
    "digits": "from " + "1" * N,
    "dots": "from " + "." * N,
    "digit-dots": "from " + "1." * (N // 2),
    "colons": "from " + "a:" * (N // 2),
    "ips": "from x (" + "[192.0.2.1] " * (N // 12),
    "auth-pieces": "from " + "]) (authenticated (" * (N // 20),
    "courier-auth": "from " + "]) (AUTH: LOGIN x, " * (N // 20),
    "qmail-comments": "from x (192.0.2.1) by y" + " (a)" * (N // 4) + " with x SMTP id",
    "semicolons": "from x " + ";" * N,
    "separators": "from x " + "; " * (N // 2) + "1 Oct 2024 10:00:00 +0000",
    "at-signs": "from x (" + "@" * N,
    "nested": "from x " + "(" * (N // 2) + ")" * (N // 2) + " by y",
    "over-cut": "from x (x [192.0.2.1]) by y (Postfix) with ESMTP id 1 " + "(" * (8 * N),
}
RESULT_TYPES = (Relay, Skipped, Fetch, Unparseable)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_parses_without_raising(value: str) -> None:
    assert isinstance(parse_received(value), RESULT_TYPES)


@settings(max_examples=300, deadline=None)
@given(garbage)
def test_received_shaped_garbage_parses_without_raising(value: str) -> None:
    assert isinstance(parse_received(value), RESULT_TYPES)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000))
def test_any_bytes_build_a_chain(message: bytes) -> None:
    chain = build_chain(message, TrustSettings())
    assert len(chain.checked) <= len(chain.relays)


@settings(max_examples=200, deadline=None)
@given(st.lists(garbage, max_size=20))
def test_garbage_received_fields_build_a_chain(values: list[str]) -> None:
    headers = "".join(f"Received: {value}\r\n" for value in values)
    message = f"{headers}X-Originating-IP: {values[0] if values else ''}\r\n\r\nbody".encode(
        "latin-1", "replace"
    )
    chain = build_chain(message, TrustSettings())
    assert all(relay.ip for relay in chain.relays)


@pytest.mark.parametrize("value", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_field_finishes(value: str) -> None:
    with no_hang():
        assert isinstance(parse_received(value), RESULT_TYPES)


def test_field_beyond_the_cut_is_ignored() -> None:
    head = "from x (x [192.0.2.1]) by mx.example.net (Postfix) with ESMTP id 4Pq7Zk1xyz "
    result = parse_received(head + " " * (N - len(head)) + "(forged [198.51.100.1])")
    assert isinstance(result, Relay)
    assert result.ip == "192.0.2.1"


def test_ten_thousand_hops_are_cut_at_the_rfc_5321_loop_limit() -> None:
    hop = (
        b"Received: from a.example (a.example [198.51.100.7]) by mx.example.net (Postfix)"
        b" with ESMTP id 4Pq7Zk1xyz; Tue,  1 Oct 2024 10:00:00 +0000 (UTC)\r\n"
    )
    chain = build_chain(hop * HOPS + b"Subject: x\r\n\r\nbody\r\n", TrustSettings())
    # Only MAX_HEADER_BYTES of the 1.4 MB header section are read: the hops in it.
    parsed = MAX_HEADER_BYTES // len(hop)
    assert len(chain.relays) == MAX_RECEIVED_HEADERS
    assert chain.ignored == parsed - MAX_RECEIVED_HEADERS
    assert [cut.limit for cut in chain.cuts] == ["MAX_HEADER_BYTES", "MAX_RECEIVED_HEADERS"]
    assert [relay.ip for relay in chain.checked] == ["198.51.100.7"]
