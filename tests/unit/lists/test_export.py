"""Export formats, with allow-list entries carved out of listed networks."""

from __future__ import annotations

import ipaddress

from oplguard.lists.export import (
    ExportEntry,
    carve,
    effective,
    networks_of,
    to_plain,
    to_postfix_cidr,
    to_rbldnsd,
    to_rspamd,
)


def entry(text: str, category: str = "open-proxy", reason: str = "open proxy") -> ExportEntry:
    return ExportEntry(ipaddress.ip_network(text), reason, category, "opl")


def test_range_becomes_cidrs() -> None:
    assert [str(n) for n in networks_of("192.0.2.0-192.0.2.5")] == ["192.0.2.0/30", "192.0.2.4/31"]


def test_allowed_address_is_carved_out_of_a_listed_network() -> None:
    pieces = carve(ipaddress.ip_network("192.0.2.0/30"), [ipaddress.ip_network("192.0.2.1/32")])
    assert [str(p) for p in pieces] == ["192.0.2.0/32", "192.0.2.2/31"]


def test_allowed_supernet_removes_the_entry() -> None:
    assert effective([entry("192.0.2.99/32")], ["192.0.2.0/24"]) == []


def test_other_family_hole_is_ignored() -> None:
    assert len(effective([entry("2001:db8:bad::/48")], ["192.0.2.0/24"])) == 1


def test_rbldnsd_datasets_split_by_family_with_category_answers() -> None:
    files = to_rbldnsd(
        [
            entry("192.0.2.99/32"),
            entry("203.0.113.0/24", "zombie", "bot: net"),
            entry("2001:db8:bad::/48"),
        ]
    )
    assert "192.0.2.99/32 :127.0.0.2:open proxy" in files["ip4set"]
    assert "203.0.113.0/24 :127.0.0.3:bot net" in files["ip4set"]
    assert "2001:db8:bad::/48 :127.0.0.2:open proxy" in files["ip6trie"]


def test_postfix_rspamd_and_plain_lines() -> None:
    entries = [entry("192.0.2.99/32")]
    assert to_postfix_cidr(entries) == "192.0.2.99/32\tREJECT open proxy\n"
    assert to_rspamd(entries) == "192.0.2.99/32 open proxy\n"
    assert to_plain(entries) == "192.0.2.99/32  open proxy\n"
