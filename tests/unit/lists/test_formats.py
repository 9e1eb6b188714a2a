"""List file formats: plain, rbldnsd ip4set and ip6tset; bad lines name file, line and fix."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from oplguard.errors import ListError
from oplguard.ipaddr import parse_span
from oplguard.lists.entries import ListEntry
from oplguard.lists.formats import decode, format_line, normalise_date, parse_text, request_span

Row = tuple[str, str, str | None, str | None, bool]  # network, reason, since, expires, excluded


def rows(text: str, fmt: str) -> list[Row]:
    return [
        (e.network, e.reason, e.listed_since, e.expires, e.is_exclusion)
        for e, _ in parse_text(text, fmt, "lists/x.txt")
    ]


def error_of(text: str, fmt: str) -> str:
    with pytest.raises(ListError) as caught:
        parse_text(text, fmt, "lists/x.txt")
    return str(caught.value)


@pytest.mark.parametrize(
    ("line", "row"),
    [
        (
            "203.0.113.66  since=2026-10-02 expires=2027-04-02  Open SOCKS proxy on port 1080",
            ("203.0.113.66", "Open SOCKS proxy on port 1080", "2026-10-02", "2027-04-02", False),
        ),
        ("192.0.2.99", ("192.0.2.99", "", None, None, False)),
        ("192.0.2.0/24\topen proxies # seen", ("192.0.2.0/24", "open proxies", None, None, False)),
        ("192.0.2.5-192.0.2.9 range a#b", ("192.0.2.5-192.0.2.9", "range a#b", None, None, False)),
        ("192.0.2.0-192.0.2.255 whole", ("192.0.2.0/24", "whole", None, None, False)),
        ("2001:DB8:BAD::/48 farm", ("2001:db8:bad::/48", "farm", None, None, False)),
        ("2001:db8::1-2001:db8::9", ("2001:db8::1-2001:db8::9", "", None, None, False)),
        ("::ffff:192.0.2.7 mapped", ("192.0.2.7", "mapped", None, None, False)),
        ("!192.0.2.7 partner", ("192.0.2.7", "partner", None, None, True)),
        (
            "192.0.2.8 expires=2027-04-02T12:00:00Z since=2026-01-01T08:00 open port=1080",
            ("192.0.2.8", "open port=1080", "2026-01-01T08:00:00+00:00",
             "2027-04-02T12:00:00+00:00", False),
        ),
    ],
    ids=["example", "bare", "cidr-comment", "range", "range-cidr", "v6", "v6-range", "mapped",
         "exclusion", "datetimes"],
)  # fmt: skip
def test_plain_good_lines(line: str, row: Row) -> None:
    assert rows(line + "\n", "plain") == [row]


def test_plain_comments_and_blank_lines_are_skipped() -> None:
    text = "# header\n\n   \n  # indented\n192.0.2.99 x\n"
    ((entry, _),) = parse_text(text, "plain", "x")
    assert entry == ListEntry("192.0.2.99", "x", line=5)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("192.0.2.300", "'192.0.2.300' is not an IPv4 or IPv6 address; write 192.0.2.7"),
        ("proxy.example.net open", "is not an IPv4 or IPv6 address"),
        ("192.0.2.1/24 x", "host bits set in 192.0.2.1/24; write 192.0.2.0/24 for the network"),
        ("192.000.2.1", "leading zeros in '192.000.2.1' are ambiguous (octal?); write 192.0.2.1"),
        ("192.0.2.1 since=2026-02-30", "bad since date '2026-02-30'; write since=2027-04-02"),
        ("192.0.2.1 expires=soon", "bad expires date 'soon'; write expires=2027-04-02"),
        ("192.0.2.1 expire=2027-01-01 x", "unknown key 'expire'; write since=YYYY-MM-DD"),
        ("192.0.2.1 port=1080 open", "unknown key 'port'"),
        ("192.0.2.1 Expires=2027-01-01 x", "unknown key 'Expires'"),
        ("192.0.2", "'192.0.2' is an rbldnsd short form; write 192.0.2.0/24"),
        ("192.0.2.9-192.0.2.1", "goes down; write 192.0.2.1-192.0.2.9"),
        ("fe80::1%eth0", "zone id"),
    ],
    ids=["octet", "name", "host-bits", "leading-zeros", "bad-day", "bad-date", "unknown-key",
         "key-as-reason", "key-case", "short-form", "range-down", "zone-id"],
)  # fmt: skip
def test_plain_bad_lines_name_file_line_and_fix(line: str, message: str) -> None:
    error = error_of(f"# header\n192.0.2.99\n{line}\n", "plain")
    assert error.startswith("lists/x.txt:3: ")
    assert message in error


IP4SET = """\
# rbldnsd dataset
$SOA 0 ns.example. hostmaster.example. 0 2h 2h 1w 1h
$TTL 1h
:127.0.0.2:Open proxy, see https://lookup.example/$
192.0.2.99
192.0.2 :3:zombie network
198.51.100.4-10 ; first comment
198.51.100.20-198.51.100.29 :5
198.51.100.33 :6:
!192.0.2.50
198.18-19
10/8 text after the range
203.0.113.7:2:value right after
; another comment
127.16.0/12 # trailing comment
"""


def test_ip4set_forms_and_values() -> None:
    assert rows(IP4SET, "ip4set") == [
        ("192.0.2.99", "Open proxy, see https://lookup.example/$", None, None, False),
        ("192.0.2.0/24", "zombie network", None, None, False),
        ("198.51.100.4-198.51.100.10", "Open proxy, see https://lookup.example/$", None, None,
         False),
        ("198.51.100.20-198.51.100.29", "Open proxy, see https://lookup.example/$", None, None,
         False),
        ("198.51.100.33", "", None, None, False),  # ":6:" = no TXT at all
        ("192.0.2.50", "", None, None, True),
        ("198.18.0.0/15", "Open proxy, see https://lookup.example/$", None, None, False),
        ("10.0.0.0/8", "text after the range", None, None, False),
        ("203.0.113.7", "value right after", None, None, False),
        ("127.16.0.0/12", "Open proxy, see https://lookup.example/$", None, None, False),
    ]  # fmt: skip


def test_ip4set_lines_keep_their_numbers() -> None:
    numbers = [entry.line for entry, _ in parse_text(IP4SET, "ip4set", "x")]
    assert numbers == [5, 6, 7, 8, 9, 10, 11, 12, 13, 15]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2001:db8::1", "ip4set lists IPv4 only; put 2001:db8::1 in an ip6tset or plain list"),
        ("10", "a bare number '10' is ambiguous; write 10.0.0.0/8"),
        ("192.0.2.1/24", "host bits set in 192.0.2.1/24; write 192.0.2.0/24"),
        ("192.0.2.256", "'192.0.2.256': an IPv4 octet is 0..255"),
        ("192.0.2.01", "leading zeros in '192.0.2.01' are ambiguous (octal?); write 192.0.2.1"),
        ("192.0.2.1 :banana:reason", "bad A value 'banana'; write :127.0.0.2:reason"),
        ("192.0.2.9-1", "range '192.0.2.9-1' goes down"),
        ("proxy.example", "'proxy.example' is not an IPv4 address or prefix"),
    ],
    ids=["v6", "bare-number", "host-bits", "octet", "leading-zero", "a-value", "down", "name"],
)
def test_ip4set_bad_lines(line: str, message: str) -> None:
    error = error_of(f":2:listed\n{line}\n", "ip4set")
    assert error.startswith("lists/x.txt:2: ")
    assert message in error


IP6TSET = """\
# rbldnsd ip6tset: /64s as four words, /128 exclusions
2001:db8:1:2
2001:db8:1:3::/64 own reason
:127.0.0.2:Listed IPv6 /64, see https://lookup.example/$
:127.0.0.3:second value line is ignored by rbldnsd
!2001:db8:1:2::7
!2001:db8:1:2:0:0:0:8
"""


def test_ip6tset_forms_take_the_dataset_value() -> None:
    assert rows(IP6TSET, "ip6tset") == [
        ("2001:db8:1:2::/64", "Listed IPv6 /64, see https://lookup.example/$", None, None, False),
        ("2001:db8:1:3::/64", "own reason", None, None, False),
        ("2001:db8:1:2::7", "", None, None, True),
        ("2001:db8:1:2::8", "", None, None, True),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("192.0.2.1", "ip6tset lists IPv6 only; put 192.0.2.1 in an ip4set or plain list"),
        ("2001:db8::/48", "2001:db8::/48 is a /48 but in ip6tset entries are /64"),
        ("2001:db8:1:2::", "is a /128 but in ip6tset entries are /64; write 2001:db8:1:2::/64"),
        ("!2001:db8:1:2", "an exclusion is one address (/128)"),
        ("2001:db8:1:2:5::/64", "host bits set in 2001:db8:1:2:5::/64"),
        ("2001:db8::1-2001:db8::9", "ip6tset has no ranges"),
        ("zzzz:1:2:3", "is not an IPv4 or IPv6 address; write 2001:db8:1:2 (a /64)"),
    ],
    ids=["v4", "wide", "address", "wide-exclusion", "host-bits", "range", "junk"],
)
def test_ip6tset_bad_lines(line: str, message: str) -> None:
    error = error_of(f"2001:db8:9:9\n{line}\n", "ip6tset")
    assert error.startswith("lists/x.txt:2: ")
    assert message in error


def test_bad_default_value_in_ip6tset_names_its_line() -> None:
    assert error_of("2001:db8:9:9\n:what:x\n", "ip6tset").startswith("lists/x.txt:2: bad A value")


def test_non_utf8_bytes_decode_leniently() -> None:
    text = decode(b"\xef\xbb\xbf192.0.2.99 caf\xe9 \xff proxy\r\n192.0.2.100 ok\r\n")
    entries = [entry for entry, _ in parse_text(text, "plain", "x")]
    assert [(e.network, e.reason, e.line) for e in entries] == [
        ("192.0.2.99", "caf\ufffd \ufffd proxy", 1),
        ("192.0.2.100", "ok", 2),
    ]


def test_only_line_feeds_end_lines() -> None:
    # \x0b, \x1c and U+2028 are line breaks to str.splitlines, not to list files.
    ((entry, _),) = parse_text("192.0.2.99 a\x0bb\u2028c\n", "plain", "x")
    assert entry.reason == "a\x0bb\u2028c"


def test_unknown_format_is_refused() -> None:
    assert "unknown list format 'cdb'" in error_of("192.0.2.1\n", "cdb")


def test_dates_normalise_and_expire() -> None:
    assert normalise_date("expires", "2027-04-02") == "2027-04-02"
    assert normalise_date("expires", "2027-04-02T12:00:00Z") == "2027-04-02T12:00:00+00:00"
    entry = ListEntry("192.0.2.1", "x", expires="2027-04-02")
    assert entry.expires_at() == datetime(2027, 4, 2, tzinfo=UTC)
    assert not entry.is_expired(datetime(2027, 4, 1, 23, 59, tzinfo=UTC))
    assert entry.is_expired(datetime(2027, 4, 2, tzinfo=UTC))
    assert not ListEntry("192.0.2.1", "x").is_expired(datetime(2999, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("fmt", "network", "reason", "excluded", "line"),
    [
        ("plain", "192.0.2.99", "open proxy", False, "192.0.2.99  since=2026-11-01  open proxy"),
        ("plain", "2001:db8:bad::/48", "", True, "!2001:db8:bad::/48  since=2026-11-01"),
        ("ip4set", "192.0.2", "zombie: net", False, "192.0.2.0/24 zombie: net"),
        ("ip4set", "192.0.2.7", ":odd", False, "192.0.2.7 :::odd"),
        ("ip4set", "192.0.2.7", "", True, "!192.0.2.7"),
        ("ip6tset", "2001:db8:1:2::/64", "proxy", False, "2001:db8:1:2 proxy"),
        ("ip6tset", "2001:db8:1:2::7", "", True, "!2001:db8:1:2::7"),
    ],
)
def test_written_lines_read_back(
    fmt: str, network: str, reason: str, excluded: bool, line: str
) -> None:
    since = "2026-11-01" if fmt == "plain" else None
    span = request_span(network, fmt)
    written = format_line(fmt, span, reason, since=since, is_exclusion=excluded)
    assert written == line
    ((entry, read_span),) = parse_text(written + "\n", fmt, "x")
    assert read_span == span
    assert (entry.reason, entry.is_exclusion) == (reason if not excluded else "", excluded)


@pytest.mark.parametrize(
    ("fmt", "network", "reason", "since", "message"),
    [
        ("plain", "192.0.2.1", "a # b", None, "cannot hold ' #'"),
        ("plain", "192.0.2.1", "port=25 open", None, "cannot start with key=value"),
        ("plain", "192.0.2.1", "two\nlines", None, "one line"),
        ("plain", "192.0.2.1", "x", "yesterday", "bad since date"),
        ("ip4set", "192.0.2.1", "x", "2026-11-01", "ip4set lines carry no dates"),
        ("ip4set", "2001:db8::1", "x", None, "ip4set lists IPv4 only"),
        ("ip6tset", "2001:db8::/48", "x", None, "entries are /64"),
        ("ip6tset", "192.0.2.1", "x", None, "ip6tset lists IPv6 only"),
    ],
)
def test_lines_that_cannot_be_written(
    fmt: str, network: str, reason: str, since: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        format_line(fmt, request_span(network, fmt), reason, since=since)


def test_request_span_takes_ip4set_short_forms_only_there() -> None:
    assert request_span("192.0.2", "ip4set") == parse_span("192.0.2.0/24")
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        request_span("192.0.2", "plain")
