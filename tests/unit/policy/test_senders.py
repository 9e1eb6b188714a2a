"""SenderSet: the most specific active entry of a scope, single addresses found by dict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oplguard.config.model import SenderEntry
from oplguard.policy.senders import SenderSet, address_value

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PAST = NOW - timedelta(days=1)


def test_single_address_beats_its_network() -> None:
    net = SenderEntry("203.0.113.0/24", comment="net")
    host = SenderEntry("203.0.113.66", comment="host")
    senders = SenderSet.build((net, host))
    assert senders.match("203.0.113.66", "hop", NOW) is host
    assert senders.match("203.0.113.67", "hop", NOW) is net
    assert senders.match("198.51.100.1", "hop", NOW) is None


def test_first_of_equals_in_config_order() -> None:
    first = SenderEntry("203.0.113.66", comment="first")
    second = SenderEntry("203.0.113.66-203.0.113.66", comment="second")
    assert SenderSet.build((first, second)).match("203.0.113.66", None, NOW) is first
    assert SenderSet.build((second, first)).match("203.0.113.66", None, NOW) is second


def test_scope_and_expiry_fall_through_to_wider_entries() -> None:
    expired = SenderEntry("203.0.113.66", expires=PAST, comment="expired")
    connection = SenderEntry("203.0.113.66", scope="connection", comment="connection")
    wide = SenderEntry("203.0.113.0/25", comment="wide")
    senders = SenderSet.build((expired, connection, wide))
    assert senders.match("203.0.113.66", "hop", NOW) is wide
    assert senders.match("203.0.113.66", "connection", NOW) is connection
    assert senders.match("203.0.113.66", None, NOW) is connection


def test_ipv6_and_mapped_addresses() -> None:
    host = SenderEntry("2001:db8::66")
    senders = SenderSet.build((host, SenderEntry("203.0.113.66")))
    assert senders.match("2001:db8:0::66", "hop", NOW) is host
    # Mapped IPv4 is an IPv6 value, as ipaddress reads it: no IPv4 entry matches it.
    assert senders.match("::ffff:203.0.113.66", "hop", NOW) is None


@pytest.mark.parametrize("text", ["203.0.113.66", "0.0.0.1", "10.0.0.1", "::1", "2001:db8::1"])
def test_address_value_agrees_with_ipaddress(text: str) -> None:
    import ipaddress

    address = ipaddress.ip_address(text)
    assert address_value(text) == (address.version, int(address))


@pytest.mark.parametrize("text", ["203.0.113.066", "1.2.3", "1.2.3.4.5", "x", ""])
def test_address_value_refuses_what_ipaddress_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        address_value(text)
