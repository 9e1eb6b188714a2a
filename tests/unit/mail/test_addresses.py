"""Canonical IP text and the skip table (relay-chain.md §3.7, §6)."""

from __future__ import annotations

import pytest

from oplguard.mail.addresses import canonical_ip, find_ips, is_private, is_skipped, skip_reason

CANONICAL = {
    "192.0.2.1": "192.0.2.1",
    "[192.0.2.1]": "192.0.2.1",
    "IPv6:2001:DB8:10:0:0:0:0:25": "2001:db8:10::25",
    "[IPv6:2001:db8::1]": "2001:db8::1",
    "ipv6:2001:db8::1": "2001:db8::1",
    "::ffff:198.51.100.9": "198.51.100.9",
    "0:0:0:0:0:ffff:192.0.2.44": "192.0.2.44",
    "fe80::1234%5": "fe80::1234",
    "[fe80::1%eth0]": "fe80::1",
    "2001:db8::192.0.2.45": "2001:db8::c000:22d",
    "::1": "::1",
    "::": "::",
}
NOT_AN_IP = [
    "192.000.002.010",  # leading zeros: never read as octal (relay-chain.md §6)
    "010.0.0.1",
    "::ffff:01.2.3.4",
    "256.1.1.1",
    "1.2.3",
    "2001:db8::g1",
    "1:2:3:4:5:6:7:8:9",
    "",
    "unknown",
    "[",
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL.items(), ids=CANONICAL.keys())
def test_canonical_ip(text: str, canonical: str) -> None:
    assert canonical_ip(text) == canonical


@pytest.mark.parametrize("text", NOT_AN_IP)
def test_not_an_ip(text: str) -> None:
    assert canonical_ip(text) is None
    assert is_skipped(text)


SKIPPED = [
    "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1", "169.254.1.1",
    "100.64.3.4", "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.1.1.1",
    "240.0.0.1", "255.255.255.255", "::", "::1", "fe80::1", "febf::1", "fc00::1", "fd00::25",
    "ff02::1", "::ffff:10.0.0.1",
]  # fmt: skip
PUBLIC = [
    "192.0.2.1", "198.51.100.7", "203.0.113.5", "2001:db8::1", "8.8.8.8", "172.32.0.1",
    "100.128.0.1", "64:ff9b::c000:201", "2002:c000:201::1", "2603:10b6:5:100::11",
    "::ffff:198.51.100.9", "fec0::1",
]  # fmt: skip


@pytest.mark.parametrize("ip", SKIPPED)
def test_skip_table(ip: str) -> None:
    assert is_skipped(ip)
    assert skip_reason(ip)


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_incl_documentation_ranges_are_checked(ip: str) -> None:
    assert not is_skipped(ip)
    assert skip_reason(ip) is None


@pytest.mark.parametrize(
    ("ip", "private"),
    [("10.0.0.1", True), ("fe80::1", True), ("::1", True), ("100.64.0.1", True),
     ("fd00::1", False), ("0.0.0.0", False), ("192.0.2.1", False), ("junk", False)],
)  # fmt: skip
def test_sa_private_flag_for_inference(ip: str, private: bool) -> None:
    assert is_private(ip) is private


def test_find_ips_uses_sa_pattern_and_canonicalises() -> None:
    text = "TenantId=72f988bf-86f1-41af;Ip=[192.0.2.1];x 2001:DB8::1 ::ffff:10.0.0.1 10.0.0.300"
    assert find_ips(text) == ("192.0.2.1", "2001:db8::1", "10.0.0.1")
