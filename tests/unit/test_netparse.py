"""Address forms in config: IP, CIDR, ranges and the IPv4 globs of other filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oplguard.config.model import SenderEntry
from oplguard.netparse import parse_network, parse_tcp_listen
from oplguard.policy.senders import SenderSet


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("192.0.2.*", "192.0.2.0-192.0.2.255"),
        ("192.0.*.*", "192.0.0.0-192.0.255.255"),
        ("192.0.2.10-20", "192.0.2.10-192.0.2.20"),
        ("192.0.2.1-192.0.2.9", "192.0.2.1-192.0.2.9"),
        ("192.0.2.0/24", "192.0.2.0/24"),
        (" 192.0.2.5 ", "192.0.2.5"),
        ("::ffff:192.0.2.5", "192.0.2.5"),
        ("2001:DB8::1", "2001:db8::1"),
    ],
)
def test_forms(text: str, canonical: str) -> None:
    assert parse_network(text) == canonical


@pytest.mark.parametrize(
    "text", ["192.*.2.1", "192.0.2.300", "192.0.2.010", "192.0.2.1/24", "192.0.2.9-192.0.2.1", ""]
)
def test_bad_forms_say_why(text: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        parse_network(text)


def test_a_glob_allow_entry_matches_inside_and_not_outside() -> None:
    entry = SenderEntry(network=parse_network("198.51.100.*"), scope="hop")
    senders = SenderSet.build((entry,))
    now = datetime.now(UTC)
    assert senders.match("198.51.100.77", None, now) is not None
    assert senders.match("198.51.101.1", None, now) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9783", ("127.0.0.1", 9783)), ("[::1]:80", ("::1", 80))],
)
def test_tcp_listen_gives_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_tcp_listen(text, "why") == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("tls:127.0.0.1:1", "plain only"),
        ("unix:/run/x.sock", "plain only"),
        ("*:80", "plain only"),
        ("127.0.0.1", "missing :PORT"),
    ],
)
def test_tcp_listen_refuses_other_kinds_with_the_reason_given(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_tcp_listen(text, "plain only")
