"""The one IP module (ipaddr.py) and every consumer that reads an IP: one table of
inputs, one answer (issue 15; relay-chain.md §3.7, §6)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from oplguard.commands.track import make_filter, register
from oplguard.config.model import SenderEntry
from oplguard.errors import InputError, ListError
from oplguard.ipaddr import (
    Span,
    SpanSet,
    address_value,
    canonical_address,
    observed_value,
    parse_span,
    span_text,
)
from oplguard.lists import export
from oplguard.lists.formats import parse_text
from oplguard.mail.addresses import canonical_ip
from oplguard.mail.networks import parse_entry
from oplguard.netparse import parse_network
from oplguard.observability.trace import _target as trace_target
from oplguard.policy.senders import SenderSet, network_range
from oplguard.policyd.decision import client_ip
from oplguard.removals.model import parse_public_ip
from oplguard.server.access import AccessList

REFUSED = None
# text -> canonical address, or REFUSED, for an address typed into a config,
# a list file, the web form or API, or the CLI.
TYPED: dict[str, str | None] = {
    "192.0.2.1": "192.0.2.1",
    " 192.0.2.1\t": "192.0.2.1",
    "2001:DB8::1": "2001:db8::1",
    "::ffff:192.0.2.1": "192.0.2.1",
    "0:0:0:0:0:ffff:c000:201": "192.0.2.1",
    "192.0.02.1": REFUSED,
    "192.000.002.001": REFUSED,
    "::ffff:192.0.02.1": REFUSED,
    "fe80::1%eth0": REFUSED,
    "2001:db8::1%1": REFUSED,
    "192.0.2": REFUSED,
    "192.0.2.256": REFUSED,
    "proxy.example": REFUSED,
    "": REFUSED,
}


def _or_refused(read: Callable[[str], str], text: str) -> str | None:
    try:
        return read(text)
    except (ValueError, InputError):
        return REFUSED


def _list_file_span(text: str) -> Span:
    """One line of a plain list file, read by the list file parser."""
    try:
        [(_entry, span)] = parse_text(f"{text}\n", "plain")
    except ListError as err:
        raise ValueError(str(err)) from err
    return span


def _via_span(text: str) -> str:
    return span_text(_list_file_span(text))


def _track_ip(text: str) -> str:
    """``oplguard track --ip``: an empty --ip means no filter, so it is read as refused."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    ip = make_filter(parser.parse_args(["track", f"--ip={text}"])).ip
    if not ip:
        raise ValueError("no IP")
    return ip


def _via_value(text: str) -> str:
    version, value = address_value(text)
    return span_text((version, value, value))


TYPED_READERS: dict[str, Callable[[str], str]] = {
    "ipaddr.canonical_address": canonical_address,
    "netparse.parse_network (config)": parse_network,
    "lists.formats.parse_text (list files)": _via_span,
    "ipaddr.address_value (list lookups)": _via_value,
    "removals parse_public_ip (web, API, CLI)": parse_public_ip,
    "senders.network_range": lambda text: span_text(network_range(text)),
    "export.networks_of": lambda text: str(export.networks_of(text)[0].network_address),
    "trace --ip": lambda text: trace_target(text, "")[0],
    "track --ip": _track_ip,
}


@pytest.mark.parametrize("reader", TYPED_READERS, ids=str)
@pytest.mark.parametrize("text", TYPED, ids=repr)
def test_every_typed_reader_gives_one_answer(reader: str, text: str) -> None:
    assert _or_refused(TYPED_READERS[reader], text) == TYPED[text]


# An address a socket or a mail header reports: the zone id names the host's own
# interface and is dropped; a scoped address is link-local, so never checked.
OBSERVED: dict[str, str | None] = {
    **TYPED,
    "fe80::1%eth0": "fe80::1",
    "2001:db8::1%1": "2001:db8::1",
}


def _observed(text: str) -> str:
    version, value = observed_value(text)
    return span_text((version, value, value))


@pytest.mark.parametrize("text", OBSERVED, ids=repr)
def test_observed_readers_agree(text: str) -> None:
    expected = OBSERVED[text]
    assert _or_refused(_observed, text) == expected
    assert canonical_ip(text) == expected  # mail/addresses.py, compiled, own loop
    access = AccessList(("0.0.0.0/0", "::/0"))
    assert access.allows(text) == (expected is not None)


@pytest.mark.parametrize("text", ["fe80::1%eth0", "[IPv6:fe80::1%eth0]", "fe80::1"])
def test_a_scoped_address_is_not_checkable(text: str) -> None:
    assert client_ip(text) is None  # the policy daemon: link-local, skipped
    with pytest.raises(InputError, match=r"scoped|link"):
        parse_public_ip(text if "%" in text else f"{text}%eth0")


def test_mail_text_ipv4_mapped_is_the_ipv4_address() -> None:
    assert canonical_ip("[IPv6:::ffff:192.0.2.99]") == "192.0.2.99"
    assert client_ip("::ffff:192.0.2.99") == "192.0.2.99"


# text -> the span every span reader gives, or REFUSED.
SPANS: dict[str, Span | None] = {
    "192.0.2.0/24": (4, 0xC0000200, 0xC00002FF),
    " 192.0.2.0/24 ": (4, 0xC0000200, 0xC00002FF),
    "::ffff:192.0.2.0/120": (4, 0xC0000200, 0xC00002FF),
    "127.0.0.2-127.0.0.9": (4, 0x7F000002, 0x7F000009),
    "127.0.0.2 - 127.0.0.9": (4, 0x7F000002, 0x7F000009),
    "2001:db8::ff-2001:db8::1:0": (
        6,
        0x20010DB80000000000000000000000FF,
        0x20010DB8 << 96 | 0x10000,
    ),
    "192.0.2.9-192.0.2.1": REFUSED,
    "192.0.2.1-2001:db8::1": REFUSED,
    "192.0.02.0/24": REFUSED,
    "192.0.2.0/33": REFUSED,
    "fe80::/64%eth0": REFUSED,
}
HOST_BITS = "192.0.2.1/24"


def _span_or_refused(read: Callable[[str], Span], text: str) -> Span | None:
    try:
        return read(text)
    except ValueError:
        return REFUSED


def _merged(networks: list[export.Network]) -> Span:
    first, last = networks[0], networks[-1]
    return first.version, int(first.network_address), int(last.broadcast_address)


def _sa_networks(text: str) -> Span:
    """mail/networks.py: SpamAssassin's syntax; its leading-zero rule is SA's (decimal)."""
    return _merged([entry.network for entry in parse_entry(text)])


SPAN_READERS: dict[str, Callable[[str], Span]] = {
    "ipaddr.parse_span": parse_span,
    "netparse.parse_network (config)": lambda text: parse_span(parse_network(text)),
    "lists.formats.parse_text (list files)": _list_file_span,
    "senders.network_range": network_range,
    "export.networks_of": lambda text: _merged(export.networks_of(text)),
    "mail.networks (trusted_networks)": _sa_networks,
}
# SA's NetSet reads "010" as decimal 10 (relay-chain.md §4): its own documented rule.
SA_DECIMAL = {"192.0.02.0/24"}


@pytest.mark.parametrize("reader", SPAN_READERS, ids=str)
@pytest.mark.parametrize("text", SPANS, ids=repr)
def test_every_span_reader_gives_one_answer(reader: str, text: str) -> None:
    if reader.startswith("lists.formats") and len(text.split()) > 1:
        # In a list file the network is the line's first word, the rest its reason
        # (rbldnsd's rule): "127.0.0.2 - 127.0.0.9" lists 127.0.0.2, reason "- 127.0.0.9".
        assert _list_file_span(text) == parse_span(text.split()[0])
        return
    if reader.startswith("mail.networks") and text in SA_DECIMAL:
        assert _sa_networks(text) == parse_span(text.replace("02", "2"))
        return
    assert _span_or_refused(SPAN_READERS[reader], text) == SPANS[text]


@pytest.mark.parametrize("text", [t for t, span in SPANS.items() if span is not None], ids=repr)
def test_access_lists_admit_exactly_the_span(text: str) -> None:
    span = SPANS[text]
    assert span is not None
    version, first, last = span
    access = AccessList((text,))
    outside = [value for value in (first - 1, last + 1) if value >= 0]
    for value in (first, (first + last) // 2, last):
        assert access.allows(span_text((version, value, value)))
    for value in outside:
        assert not access.allows(span_text((version, value, value)))


def test_host_bits_refused_when_typed_masked_when_already_validated() -> None:
    """Config and list files refuse ``192.0.2.1/24`` with the fix; the readers that
    only ever get validated config text mask it, all to the same span."""
    for strict_reader in (parse_span, _list_file_span, lambda t: parse_span(parse_network(t))):
        with pytest.raises(
            ValueError, match=re.escape("host bits set in 192.0.2.1/24; write 192.0.2.0/24")
        ):
            strict_reader(HOST_BITS)
    masked = parse_span(HOST_BITS, strict=False)
    assert masked == (4, 0xC0000200, 0xC00002FF)
    assert network_range(HOST_BITS) == masked
    assert _merged(export.networks_of(HOST_BITS)) == masked
    assert _sa_networks(HOST_BITS) == masked
    assert AccessList((HOST_BITS,)).allows("192.0.2.200")


def test_sender_entries_written_as_mapped_networks_match_ipv4_relays() -> None:
    """Before the one module, ``::ffff:203.0.113.0/120`` stayed an IPv6 range and
    never matched the (unmapped) relay IP 203.0.113.66."""
    entry = SenderEntry(parse_network("::ffff:203.0.113.0/120"))
    assert entry.network == "203.0.113.0/24"
    senders = SenderSet.build((entry,))
    assert senders.match("203.0.113.66", None, datetime.now(UTC)) is entry


def test_span_set_merges_and_finds() -> None:
    spans = SpanSet.parse(["192.0.2.0/25", "192.0.2.128-192.0.2.130", "2001:db8::/127", "10.0.0.1"])
    assert "192.0.2.130" in spans and "192.0.2.131" not in spans
    assert "10.0.0.1" in spans and "10.0.0.2" not in spans and "10.0.0.0" not in spans
    assert "2001:db8::1" in spans and "2001:db8::2" not in spans
    assert "::ffff:10.0.0.1" in spans and "nonsense" not in spans
    assert address_value(" 10.0.0.1 ") == (4, 0x0A000001)
