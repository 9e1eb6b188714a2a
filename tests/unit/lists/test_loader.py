"""The bulk loader reads a list exactly as the per-line parser does: same entries, hits, errors.

The reference is ``formats.parse_text`` (one line at a time) plus
``NetworkSet.build``; ``load_list`` must agree with it on random files mixing
bulk-readable lines with every shape that needs the exact parser, across
chunk boundaries (CHUNK_BYTES made tiny).
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oplguard.config.model import ListConfig
from oplguard.errors import ListError
from oplguard.ipaddr import parse_span
from oplguard.lists import builder, flatten, loader
from oplguard.lists.block import BlockList, load_list
from oplguard.lists.bulk import scan
from oplguard.lists.bulk6 import ipv6_words
from oplguard.lists.entries import ListEntry
from oplguard.lists.formats import parse_text
from oplguard.lists.ipset import EXCLUDED, NetworkSet, ip6tset_span

NOW = datetime(2026, 11, 1, tzinfo=UTC)
# A small window of each family: entries overlap, nest and share boundaries.
V4_NETS = ["198.18.0.0", "198.18.0.128", "198.18.1.0", "10.0.0.0", "0.0.0.0", "255.255.255.255"]
V6_NETS = ["2001:db8::", "2001:db8:0:1::", "2001:db8:0:1:8000::", "::", "ffff::"]


def reference(text: str, fmt: str) -> tuple[list[ListEntry], list[ListEntry], NetworkSet]:
    """What the per-line parser makes of ``text``: entries, exclusions, the set."""
    rows = [
        (entry, span) for entry, span in parse_text(text, fmt, "x.txt") if not entry.is_expired(NOW)
    ]
    entries = [(e, s) for e, s in rows if not e.is_exclusion]
    items = [(s, i) for i, (_, s) in enumerate(entries)]
    items += [(s, EXCLUDED) for e, s in rows if e.is_exclusion]
    exclusions = [e for e, _ in rows if e.is_exclusion]
    return [e for e, _ in entries], exclusions, NetworkSet.build(items)


def load_text(tmp_path: Path, data: bytes, fmt: str) -> BlockList:
    path = tmp_path / "x.txt"
    path.write_bytes(data)
    return load_list(ListConfig("x", path, "open-proxy", fmt), now=NOW)


def probes(text: str, fmt: str) -> list[str]:
    """Addresses at and around every network written in ``text``."""
    found = {"198.18.0.1", "2001:db8::1", "203.0.113.9"}
    for entry, (version, first, last) in parse_text(text, fmt, "x.txt"):
        del entry
        kind = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        top = (1 << (32 if version == 4 else 128)) - 1
        for value in (first - 1, first, last, last + 1):
            if 0 <= value <= top:
                found.add(str(kind(value)))
    return sorted(found)


def assert_same(tmp_path: Path, data: bytes, fmt: str) -> None:
    text = data.decode("utf-8-sig", errors="replace")
    try:
        entries, exclusions, networks = reference(text, fmt)
    except ListError as expected:
        with pytest.raises(ListError) as caught:
            load_text(tmp_path, data, fmt)
        assert str(caught.value).replace(str(tmp_path / "x.txt"), "x.txt") == str(expected)
        return
    block = load_text(tmp_path, data, fmt)
    assert list(block.entries) == entries
    assert list(block.exclusions) == exclusions
    for ip in probes(text, fmt):
        index = networks.lookup(ip)
        assert block.lookup(ip) == (None if index is None else entries[index]), ip


@st.composite
def v4_words(draw: st.DrawFn) -> str:
    base = int(ipaddress.IPv4Address(draw(st.sampled_from(V4_NETS))))
    bits = draw(st.sampled_from([32, 32, 32, 31, 28, 24, 16, 8, 0, 33]))
    offset = draw(st.integers(0, 300))
    value = (base + offset) & 0xFFFFFFFF
    text = str(ipaddress.IPv4Address(value))
    if draw(st.integers(0, 9)) == 0:  # a leading zero, or a stray character
        text = draw(st.sampled_from(["0", "1", "x", ".", ""])) + text
    if bits == 32 and draw(st.booleans()):
        return text
    if draw(st.booleans()):  # mostly without host bits
        value &= ~((1 << (32 - min(bits, 32))) - 1) & 0xFFFFFFFF
        text = str(ipaddress.IPv4Address(value))
    return f"{text}/{bits}"


@st.composite
def v6_words(draw: st.DrawFn) -> str:
    base = int(ipaddress.IPv6Address(draw(st.sampled_from(V6_NETS))))
    bits = draw(st.sampled_from([128, 64, 64, 48, 65, 0, 129]))
    value = (base + draw(st.integers(0, 3)) * (1 << 64)) & ((1 << 128) - 1)
    if draw(st.booleans()):
        value &= ~((1 << (128 - min(bits, 128))) - 1)
    address = ipaddress.IPv6Address(value)
    text = draw(st.sampled_from([address.compressed, address.exploded, str(address).upper()]))
    if draw(st.integers(0, 5)) == 0:  # rbldnsd ip6tset's own /64 form: four groups
        return ":".join(address.exploded.split(":")[: draw(st.sampled_from([4, 4, 3]))])
    return text if draw(st.integers(0, 5)) == 0 else f"{text}/{bits}"


REASONS = [
    "",
    " open proxy",
    "\tseen  twice ",
    " caf\u00e9 \u2028x",
    " a#b",
    " # comment",
    " port=25 x",
]
OTHER_LINES = [
    "",
    "# comment",
    "   ",
    "  198.18.0.7 indented",
    "!198.18.0.0/25 partner",
    "!2001:db8::1",
    "198.18.0.9 since=2026-01-01 dated",
    "198.18.0.10 expires=2026-01-01 gone",
    "198.18.0.11 expires=2027-01-01 later",
    "198.18.0.5-198.18.0.20 range",
    "::ffff:198.18.0.7 mapped",
    "proxy.example bad",
    "198.18.0 short",
    ":127.0.0.2:scoped value",
    "$TTL 1h",
    "198.18.0.12 :3:own value",
    "; rbldnsd comment",
    "2001:db8::/64 :2:x",
]


@st.composite
def list_files(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 30))):
        kind = draw(st.integers(0, 9))
        if kind < 5:
            lines.append(draw(v4_words()) + draw(st.sampled_from(REASONS)))
        elif kind < 7:
            lines.append(draw(v6_words()) + draw(st.sampled_from(REASONS)))
        else:
            lines.append(draw(st.sampled_from(OTHER_LINES)))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    data = ending.join(lines).encode()
    if lines and draw(st.booleans()):
        data += ending.encode()  # or no newline at the end
    return (b"\xef\xbb\xbf" if draw(st.integers(0, 9)) == 0 else b"") + data


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of a few lines, blocks of a few items: every boundary case shows up."""
    monkeypatch.setattr(loader, "CHUNK_BYTES", 97)
    monkeypatch.setattr(builder, "BLOCK", 3)
    monkeypatch.setattr(flatten, "BLOCK", 5)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(list_files(), st.sampled_from(["plain", "ip4set", "ip6tset"]))
def test_bulk_load_agrees_with_the_line_parser(tmp_path: Path, data: bytes, fmt: str) -> None:
    assert_same(tmp_path, data, fmt)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("198.18.0.1\n198.18.0.0/24 wide\n# c\n198.18.0.300 typo\n", "plain"),
        ("198.18.0.1\n2001:db8::1/64\n", "plain"),
        (":127.0.0.2:first\n198.18.0.1\n:127.0.0.3:second\n198.18.0.2\n198.18.0.3 own\n", "ip4set"),
        ("2001:db8:1:2\n:127.0.0.2:dataset\n2001:db8:1:3::/64\n", "ip6tset"),
        ("198.18.0.1 a\n198.18.0.1 b\n!198.18.0.1\n198.18.0.0/31 c\n", "plain"),
        ("2001:db8::/48 farm\n2001:db8::/64 inner\n!2001:db8::1\n::ffff:0:0/96 all v4\n", "plain"),
    ],
    ids=["error-line", "host-bits-v6", "ip4set-scopes", "ip6tset-value", "ties", "v6-nesting"],
)
def test_edge_files(tmp_path: Path, text: str, fmt: str) -> None:
    assert_same(tmp_path, text.encode(), fmt)


def test_error_names_the_first_bad_line_across_chunks(tmp_path: Path) -> None:
    text = "".join(f"198.18.{i // 256}.{i % 256}\n" for i in range(500)) + "198.18.9.999\n"
    with pytest.raises(ListError, match=r"x\.txt:501: '198\.18\.9\.999' is not an IPv4"):
        load_text(tmp_path, text.encode(), "plain")


def test_repeated_and_distinct_reasons_keep_their_entries(tmp_path: Path) -> None:
    text = "".join(f"198.18.0.{i} reason {i % 3}\n" for i in range(200))
    block = load_text(tmp_path, text.encode(), "plain")
    assert [e.reason for e in block.entries][:4] == ["reason 0", "reason 1", "reason 2", "reason 0"]
    assert [e.line for e in block.entries] == list(range(1, 201))


# The bulk readers alone, against parse_span, word by word.
def assert_words_read_as_parse_span(words: list[str]) -> set[str]:
    """Every word the bulk readers take, they read as span_of does; returns those words."""
    data = "".join(f"{word}\n" for word in [*words, ""]).encode()
    found = scan(data)
    ok6, bounds6 = ipv6_words(np.frombuffer(data, dtype=np.uint8), found.starts, found.words)
    for i, word in enumerate(words):
        try:
            expected = parse_span(word)
        except ValueError:
            expected = None
        if found.fast[i]:
            assert expected == (4, int(found.first[i]), int(found.last[i])), word
        if ok6[i]:
            hi, lo, end_hi, end_lo = (int(x) for x in bounds6[i])
            assert expected == (6, hi << 64 | lo, end_hi << 64 | end_lo), word
        assert not (found.fast[i] and ok6[i])
    taken = zip(words, found.fast[: len(words)], ok6[: len(words)], strict=True)
    return {word for word, v4, v6 in taken if v4 or v6}


EDGE_WORDS = [
    "::/0", "::1/128", "1::/16", "1:2:3:4:5:6:7::/128", "::2:3:4:5:6:7:8/128", "1::2::3/64",
    ":1::/64", "1::2:/64", "1:::2/64", "1:2:3:4:5:6:7:8::/64", "1:2:3:4::5:6:7:8/128",
    "12345::/16", "::ffff:0:0/96", "::ffff:1.2.3.4/128", "::fffe:0:0/96", "2001:db8::/32/1",
    "2001:db8::/", "2001:db8::/0x", "fe80::1%eth0/64", "2001:DB8::/32", "0:0:0:0:0:0:0:0/0",
    "2001:db8::/064", "2001:db8::/0064", "1:2:3:4:5:6:7/112", "1:2:3:4:5:6:7:8:9/128",
    "/64", "::/", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "8000::/1", "::8000:0:0:0/65",
    "1.2.3.4", "1.2.3.4/32", "0.0.0.0/0", "1.2.3.4/24", "01.2.3.4", "1.2.3.4/", "::",
]  # fmt: skip


def test_bulk_edge_words_read_as_span_of_reads_them() -> None:
    taken = assert_words_read_as_parse_span(EDGE_WORDS)
    assert taken == {
        "::/0", "::1/128", "1::/16", "1:2:3:4:5:6:7::/128", "::2:3:4:5:6:7:8/128",
        "::fffe:0:0/96", "2001:DB8::/32", "0:0:0:0:0:0:0:0/0", "2001:db8::/064",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "8000::/1", "::8000:0:0:0/65",
        "1.2.3.4", "1.2.3.4/32", "0.0.0.0/0",
    }  # fmt: skip
    assert assert_words_read_as_parse_span(["x", *EDGE_WORDS[::-1]]) == taken


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(v4_words(), v6_words(), st.text("0123456789./:abcdefABF%", max_size=24))))
def test_bulk_words_read_as_span_of_reads_them(words: list[str]) -> None:
    assert_words_read_as_parse_span(words)


IP6TSET_WORDS = [
    "2001:db8:1:2", "2001:DB8:1:2", "2001:db8:1:2::/64", "2001:db8:1:2::/48", "2001:db8:1",
    "2001:db8:1:2:3", "2001:db8::", "2001:db8::1", "1:2:3:4::/064", "1:2:3:4/64", "1:2:3:12345",
    "::ffff:0:0/64", "0:0:0:0", "ffff:ffff:ffff:ffff", "2001:db8:1:2::5/64", "1.2.3.4",
]  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(v6_words(), st.sampled_from(IP6TSET_WORDS))))
def test_ip6tset_words_read_as_rbldnsd_reads_them(words: list[str]) -> None:
    words = [*IP6TSET_WORDS, *words]
    data = "".join(f"{word}\n" for word in [*words, ""]).encode()
    found = scan(data)
    ok, bounds = ipv6_words(np.frombuffer(data, dtype=np.uint8), found.starts, found.words, True)
    for i, word in enumerate(words):
        try:
            expected = ip6tset_span(word, False)
        except ValueError:
            expected = None
        if ok[i]:
            hi, lo, end_hi, end_lo = (int(x) for x in bounds[i])
            assert expected == (6, hi << 64 | lo, end_hi << 64 | end_lo), word
    taken = [word for word, bulk in zip(IP6TSET_WORDS, ok, strict=False) if bulk]
    assert taken == [
        "2001:db8:1:2", "2001:DB8:1:2", "2001:db8:1:2::/64", "1:2:3:4::/064", "0:0:0:0",
        "ffff:ffff:ffff:ffff",
    ]  # fmt: skip
