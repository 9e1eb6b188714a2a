"""``allowed_ips`` (server/transport.py AccessList); the real sockets are in
tests/integration/test_access.py."""

from __future__ import annotations

from oplguard.server.transport import ACCESS_CACHE_SIZE, AccessList


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
