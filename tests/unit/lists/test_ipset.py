"""NetworkSet: most specific entry wins, exclusions carve holes, both families, O(log n)."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oplguard.ipaddr import Span, address_value, parse_span, span_text
from oplguard.lists import flatten
from oplguard.lists.ipset import EXCLUDED, MAX_PAYLOAD, NetworkSet

LAYERED = NetworkSet.build(
    [
        ("192.0.2.0/24", 0),  # a listed /24 ...
        ("192.0.2.99", 1),  # ... a /32 inside it with its own reason
        ("192.0.2.64/28", EXCLUDED),  # ... a hole
        ("192.0.2.70", 2),  # ... a listed host inside the hole
        ("2001:db8:bad::/48", 3),
        ("2001:db8:bad::25", EXCLUDED),
        ("198.51.100.20-198.51.100.40", 4),
        ("198.51.100.30-198.51.100.60", 5),  # overlaps, is larger: loses 30..40
    ]
)


@pytest.mark.parametrize(
    ("ip", "payload"),
    [
        ("192.0.2.0", 0), ("192.0.2.98", 0), ("192.0.2.99", 1), ("192.0.2.100", 0),
        ("192.0.2.63", 0), ("192.0.2.64", None), ("192.0.2.69", None), ("192.0.2.70", 2),
        ("192.0.2.79", None), ("192.0.2.80", 0), ("192.0.2.255", 0), ("192.0.3.0", None),
        ("192.0.1.255", None), ("2001:db8:bad::", 3), ("2001:db8:bad::24", 3),
        ("2001:db8:bad::25", None), ("2001:db8:bad:ffff:ffff:ffff:ffff:ffff", 3),
        ("2001:db8:bae::", None), ("198.51.100.19", None), ("198.51.100.20", 4),
        ("198.51.100.40", 4), ("198.51.100.41", 5), ("198.51.100.60", 5),
        ("198.51.100.61", None), ("::ffff:192.0.2.99", 1), ("::ffff:c000:246", 2),
    ],
)  # fmt: skip
def test_most_specific_entry_answers(ip: str, payload: int | None) -> None:
    assert LAYERED.lookup(ip) == payload


def test_lookup_int_is_the_same_answer() -> None:
    for ip in ("192.0.2.99", "192.0.2.64", "2001:db8:bad::1", "203.0.113.7"):
        assert LAYERED.lookup_int(*address_value(ip)) == LAYERED.lookup(ip)


def test_ties_go_to_the_exclusion_then_to_the_first_entry() -> None:
    tied = NetworkSet.build([("192.0.2.7", 1), ("192.0.2.7", 2), ("192.0.2.8", 3)])
    assert tied.lookup("192.0.2.7") == 1
    holed = NetworkSet.build([("192.0.2.8", 3), ("192.0.2.8", EXCLUDED)])
    assert holed.lookup("192.0.2.8") is None


@pytest.mark.parametrize(
    ("network", "inside", "outside"),
    [
        ("0.0.0.0/0", ["0.0.0.0", "255.255.255.255"], ["::"]),
        ("255.255.255.255", ["255.255.255.255"], ["255.255.255.254"]),
        ("::/0", ["::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], ["0.0.0.0"]),
        # Crosses the 64-bit boundary of the high/low halves.
        (
            "2001:db8:0:1:ffff:ffff:ffff:fffe-2001:db8:0:2::1",
            ["2001:db8:0:1:ffff:ffff:ffff:fffe", "2001:db8:0:2::", "2001:db8:0:2::1"],
            ["2001:db8:0:1:ffff:ffff:ffff:fffd", "2001:db8:0:2::2"],
        ),
        ("2001:db8::/64", ["2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"], ["2001:db8:0:1::"]),
    ],
    ids=["v4-all", "v4-last", "v6-all", "v6-across-halves", "v6-64"],
)
def test_first_and_last_address_are_inside(
    network: str, inside: list[str], outside: list[str]
) -> None:
    one = NetworkSet.build([(network, 7)])
    assert [one.lookup(ip) for ip in inside] == [7] * len(inside)
    assert [one.lookup(ip) for ip in outside] == [None] * len(outside)


def test_mapped_entries_and_queries_are_ipv4() -> None:
    assert parse_span("::ffff:192.0.2.0/120") == parse_span("192.0.2.0/24")
    assert parse_span("::ffff:192.0.2.9") == parse_span("192.0.2.9")
    assert address_value("::ffff:192.0.2.9") == address_value("192.0.2.9")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("192.0.2.1/24", "host bits set in 192.0.2.1/24; write 192.0.2.0/24"),
        ("192.000.2.1", "leading zeros in '192.000.2.1' are ambiguous (octal?); write 192.0.2.1"),
        ("192.0.2.9-192.0.2.1", "goes down; write 192.0.2.1-192.0.2.9"),
        ("192.0.2.1-2001:db8::1", "mixes IPv4 and IPv6"),
        ("192.0.2.0/33", "write 0 to 32 after the /"),
        ("fe80::1%eth0", "zone id"),
        ("::ffff:0.0.0.0/95", "outside the IPv4-mapped range"),
        ("proxy.example", "is not an IPv4 or IPv6 address"),
        ("192.0.2.0/\u00b2\u2074", "write 0 to 32 after the /"),
    ],
    ids=[
        "host-bits",
        "leading-zeros",
        "down",
        "mixed",
        "prefix",
        "zone",
        "mapped",
        "name",
        "unicode-digits",
    ],
)
def test_bad_network_text_says_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_span(text)


def test_lookup_of_a_non_address_raises() -> None:
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        LAYERED.lookup("mail.example.org")


def test_payload_must_fit_32_bits() -> None:
    with pytest.raises(ValueError, match="payload"):
        NetworkSet.build([("192.0.2.1", MAX_PAYLOAD + 1)])


def test_empty_set_answers_nothing() -> None:
    empty = NetworkSet.build([])
    assert empty.lookup("192.0.2.1") is None
    assert empty.lookup("2001:db8::1") is None
    assert len(empty) == 0


def test_intervals_leave_holes_out_and_give_cidrs() -> None:
    holed = NetworkSet.build([("192.0.2.0/30", 0), ("192.0.2.1", EXCLUDED), ("2001:db8::/127", 1)])
    pieces = [(i.payload, [str(n) for n in i.networks()]) for i in holed.intervals()]
    assert pieces == [(0, ["192.0.2.0/32"]), (0, ["192.0.2.2/31"]), (1, ["2001:db8::/127"])]
    assert len(holed) == 3


def test_adjacent_pieces_of_one_entry_join_again() -> None:
    # The /32 splits the /24; its own payload equals the /24's, so one interval remains.
    joined = NetworkSet.build([("192.0.2.0/24", 0), ("192.0.2.9", 0)])
    assert [(i.first, i.last) for i in joined.intervals()] == [parse_span("192.0.2.0/24")[1:]]


@pytest.mark.parametrize(
    ("span", "text"),
    [
        ((4, 1, 1), "0.0.0.1"),
        (parse_span("192.0.2.0-192.0.2.255"), "192.0.2.0/24"),
        (parse_span("192.0.2.1-192.0.2.5"), "192.0.2.1-192.0.2.5"),
        (parse_span("2001:db8::/48"), "2001:db8::/48"),
    ],
)
def test_span_text_is_canonical(span: Span, text: str) -> None:
    assert span_text(span) == text


# Property: the flattened bisect answers what a brute-force scan answers.
# Small address windows make overlaps, nesting and shared boundaries common;
# the IPv6 window straddles a 64-bit boundary of the high/low halves.
V4_BASE = int(ipaddress.IPv4Address("198.18.0.0"))
V6_BASE = int(ipaddress.IPv6Address("2001:db8:0:2::")) - (1 << 11)
WINDOW_BITS = 12


@st.composite
def spans(draw: st.DrawFn) -> Span:
    version = draw(st.sampled_from([4, 6]))
    base = V4_BASE if version == 4 else V6_BASE
    if draw(st.booleans()):
        bits = draw(st.integers(0, WINDOW_BITS))
        start = draw(st.integers(0, (1 << WINDOW_BITS) - 1)) >> bits << bits
        return version, base + start, base + start + (1 << bits) - 1
    first = draw(st.integers(0, (1 << WINDOW_BITS) - 1))
    last = draw(st.integers(first, (1 << WINDOW_BITS) - 1))
    return version, base + first, base + last


def brute_force(items: list[tuple[Span, int]], version: int, value: int) -> int | None:
    covering = [
        (last - first, 0 if payload == EXCLUDED else 1, index, payload)
        for index, ((v, first, last), payload) in enumerate(items)
        if v == version and first <= value <= last
    ]
    if not covering:
        return None
    payload = min(covering)[3]
    return None if payload == EXCLUDED else payload


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(spans(), st.integers(-1, 5)), max_size=40),
    st.lists(st.tuples(st.sampled_from([4, 6]), st.integers(-2, (1 << WINDOW_BITS) + 1))),
)
def test_lookup_agrees_with_brute_force(
    items: list[tuple[Span, int]], probes: list[tuple[int, int]]
) -> None:
    built = NetworkSet.build(items)
    edges = [(v, x) for (v, first, last), _ in items for x in (first - 1, first, last, last + 1)]
    points = [(v, (V4_BASE if v == 4 else V6_BASE) + offset) for v, offset in probes] + edges
    for version, value in points:
        text = str(ipaddress.ip_address(value) if version == 6 else ipaddress.IPv4Address(value))
        expected = brute_force(items, version, value)
        assert built.lookup_int(version, value) == expected
        assert built.lookup(text) == expected


@st.composite
def blocks(draw: st.DrawFn) -> Span:
    """CIDR blocks only: they nest or stay apart, the bulk (no sweep) path."""
    version = draw(st.sampled_from([4, 6]))
    base = V4_BASE if version == 4 else V6_BASE
    bits = draw(st.integers(0, WINDOW_BITS))
    start = draw(st.integers(0, (1 << WINDOW_BITS) - 1)) >> bits << bits
    return version, base + start, base + start + (1 << bits) - 1


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(blocks(), st.integers(-1, 5)), max_size=60), st.sampled_from([3, 1 << 20])
)
def test_nested_blocks_agree_with_brute_force(items: list[tuple[Span, int]], block: int) -> None:
    flatten.BLOCK, saved = block, flatten.BLOCK  # small blocks: the blockwise steps join up
    try:
        built = NetworkSet.build(items)
    finally:
        flatten.BLOCK = saved
    edges = [(v, x) for (v, first, last), _ in items for x in (first - 1, first, last, last + 1)]
    for version, value in edges:
        assert built.lookup_int(version, value) == brute_force(items, version, value)


def test_equal_sizes_that_cross_go_to_the_earlier_entry() -> None:
    crossed = NetworkSet.build([("192.0.2.10-192.0.2.20", 1), ("192.0.2.5-192.0.2.15", 2)])
    assert [crossed.lookup(f"192.0.2.{n}") for n in (5, 9, 10, 15, 16)] == [2, 2, 1, 1, 1]


def test_big_runs_of_nested_blocks() -> None:
    # A /8 holding many /24s holding /32s, one exclusion: flattened without a sweep.
    items: list[tuple[str | Span, int]] = [("10.0.0.0/8", 0)]
    items += [(f"10.{n}.{n}.0/24", n + 1) for n in range(200)]
    items += [(f"10.{n}.{n}.{n}", 1000 + n) for n in range(200)]
    items += [("10.7.7.0/25", EXCLUDED)]
    built = NetworkSet.build(items)
    assert built.lookup("10.9.9.9") == 1009
    assert built.lookup("10.9.9.10") == 10
    assert built.lookup("10.7.7.8") is None  # the hole
    assert built.lookup("10.7.7.7") == 1007  # more specific than the hole
    assert built.lookup("10.7.7.200") == 8
    assert built.lookup("10.250.0.1") == 0
    assert built.lookup("11.0.0.0") is None
