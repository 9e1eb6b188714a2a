"""``allowed_ips`` (server/access.py AccessList); the real sockets are in
tests/integration/test_access.py."""

from __future__ import annotations

from oplguard.netparse import parse_network
from oplguard.server.access import ACCESS_CACHE_SIZE, AccessList


def test_networks_mapped_addresses_and_zones() -> None:
    access = AccessList(("127.0.0.1", "192.0.2.0/24", "2001:db8::/32"))
    assert access.allows("127.0.0.1")
    assert access.allows("192.0.2.77")
    assert access.allows("::ffff:192.0.2.77")  # an IPv4 client on a dual-stack socket
    assert access.allows("2001:db8::1%eth0")
    assert not access.allows("198.51.100.1")
    assert not access.allows("not an address")


def test_answers_are_kept_and_stay_right_past_the_cache_bound() -> None:
    access = AccessList(("198.18.0.0/16",))
    for n in range(ACCESS_CACHE_SIZE * 2 + 3):
        host = f"198.{18 + n % 2}.{n // 256 % 256}.{n % 256}"
        assert access.allows(host) == (n % 2 == 0)
        assert len(access.known) <= ACCESS_CACHE_SIZE
    assert access.allows("198.18.0.0") and not access.allows("198.19.0.1")


def test_a_range_admits_every_address_in_it() -> None:
    """Issue 15: ``127.0.0.2-127.0.0.9`` admitted 127.0.0.2 only."""
    access = AccessList((parse_network("127.0.0.2-127.0.0.9"), parse_network("192.0.2.10-20")))
    for last in range(2, 10):
        assert access.allows(f"127.0.0.{last}")
    assert not access.allows("127.0.0.1") and not access.allows("127.0.0.10")
    assert access.allows("192.0.2.15") and not access.allows("192.0.2.21")


def test_an_ipv6_range_spanning_networks() -> None:
    access = AccessList((parse_network("2001:db8::ff-2001:db8::1:0"),))
    assert access.allows("2001:db8::ff") and access.allows("2001:db8::8000")
    assert access.allows("2001:db8::1:0") and not access.allows("2001:db8::1:1")
