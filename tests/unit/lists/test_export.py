"""Export formats, with allow-list entries carved out of listed networks."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from oplguard.lists.export import (
    ExportEntry,
    Holes,
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


def naive_effective(entries: list[ExportEntry], allowed: list[str]) -> list[ExportEntry]:
    """The reference: every entry against every hole (what effective() did before Holes)."""
    holes = [net for text in allowed for net in networks_of(text)]
    return [
        ExportEntry(piece, e.reason, e.category, e.list_name)
        for e in entries
        for piece in carve(e.network, holes)
    ]


@st.composite
def v4_networks(draw: st.DrawFn) -> str:
    # A small address space, so that entries and holes overlap, nest and touch often.
    address = draw(st.integers(0, 255)) + (192 << 24) + (2 << 8)
    length = draw(st.integers(24, 32))
    return str(ipaddress.ip_network((address, length), strict=False))


@given(
    entries=st.lists(v4_networks(), max_size=12),
    allowed=st.lists(
        v4_networks() | st.just("192.0.2.10-192.0.2.40") | st.just("2001:db8::/32"), max_size=6
    ),
)
def test_bisected_holes_carve_exactly_like_every_hole_against_every_entry(
    entries: list[str], allowed: list[str]
) -> None:
    listed = [entry(text) for text in entries]
    assert effective(listed, allowed) == naive_effective(listed, allowed)


def test_overlapping_and_adjacent_holes_are_merged() -> None:
    holes = Holes(
        ipaddress.ip_network(text)
        for text in ("192.0.2.0/26", "192.0.2.32/27", "192.0.2.64/26", "192.0.2.200/32")
    )
    assert (holes.starts[4], holes.ends[4]) == (
        [int(ipaddress.IPv4Address("192.0.2.0")), int(ipaddress.IPv4Address("192.0.2.200"))],
        [int(ipaddress.IPv4Address("192.0.2.127")), int(ipaddress.IPv4Address("192.0.2.200"))],
    )
    assert holes.touching(ipaddress.ip_network("192.0.2.128/26")) == []
    assert [str(n) for n in holes.touching(ipaddress.ip_network("192.0.2.192/26"))] == [
        "192.0.2.200/32"
    ]
