"""SpamAssassin-style network lists (relay-chain.md §4)."""

from __future__ import annotations

import pytest

from oplguard.errors import ConfigError
from oplguard.mail.networks import NetworkList

SA_EXAMPLES = NetworkList.parse(
    [
        "192.168.0.0/16",
        "172.16.",
        "212.17.35.15",
        "!10.0.1.5 10.0.1/24",
        "2001:db8:1::1 !2001:db8:1::/64 2001:db8::/32",
        "[2001:db8:5::]/48",
        "198.51.100.7-198.51.100.9",
        "::ffff:203.0.113.0/120",
        "100.64.0.0/255.255.0.0",
        "010.020.030.040",
    ]
)


@pytest.mark.parametrize(
    ("ip", "listed"),
    [
        ("192.168.4.4", True), ("172.16.9.9", True), ("172.17.0.1", False),
        ("212.17.35.15", True), ("212.17.35.16", False), ("10.0.1.5", False),
        ("10.0.1.6", True), ("2001:db8:1::1", True), ("2001:db8:1::2", False),
        ("2001:db8:2::1", True), ("2001:DB8:5::1", True), ("198.51.100.6", False),
        ("198.51.100.8", True), ("203.0.113.9", True), ("::ffff:203.0.113.9", True),
        ("100.64.200.1", True), ("100.65.0.1", False), ("10.20.30.40", True),
        ("not-an-ip", False),
    ],
)  # fmt: skip
def test_membership_first_match_wins(ip: str, listed: bool) -> None:
    assert SA_EXAMPLES.contains(ip) is listed


def test_exclusion_after_a_broader_entry_has_no_effect() -> None:
    # SA without Net::Patricia: the first matching entry decides.
    assert NetworkList.parse(["10.0.0.0/8 !10.1.0.0/16"]).contains("10.1.2.3")
    assert not NetworkList.parse(["!10.1.0.0/16 10.0.0.0/8"]).contains("10.1.2.3")


def test_zero_slash_zero_exclusion_matches_everything() -> None:
    assert not NetworkList.parse(["!0/0"]).contains("192.0.2.1")


def test_empty_list_is_falsy_and_lists_add_up() -> None:
    assert not NetworkList.parse([])
    joined = NetworkList.parse(["192.0.2.0/24"]) + NetworkList.parse(["!198.51.100.1"])
    assert joined.as_text() == ("192.0.2.0/24", "!198.51.100.1")


@pytest.mark.parametrize(
    "item",
    ["10.0.0.256", "foo", "192.0.2.0/33", "2001:db8::/129", "198.51.100.9-198.51.100.1",
     "192.0.2.1-2001:db8::1", "!", "2001:db8::/255.255.0.0", "1.2.3.4.5"],
)  # fmt: skip
def test_bad_network_names_the_item_and_the_fix(item: str) -> None:
    with pytest.raises(ConfigError) as raised:
        NetworkList.parse([item])
    assert repr(item.split()[0]) in str(raised.value)
    assert raised.value.fix
