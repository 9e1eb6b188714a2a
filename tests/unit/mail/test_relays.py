"""Relay-chain details beyond relay-chain.md §9: hops, fetch markers, originating headers."""

from __future__ import annotations

from tests.unit.mail.messages import FETCHMAIL, LOCAL, ORG, SPAM, marks, message, trust

from oplguard.mail.networks import NetworkList
from oplguard.mail.relays import TrustSettings, build_chain


def test_unparseable_fields_are_counted_and_keep_trust() -> None:
    chain = build_chain(message(LOCAL, "Received: from mx.example.net", ORG), TrustSettings())
    assert chain.unparseable == 1
    assert marks(chain, True) == ("127.0.0.1/int",)


def test_hops_are_numbered_from_the_newest_relay() -> None:
    chain = build_chain(message(LOCAL, ORG), TrustSettings())
    assert [(relay.hop, relay.ip) for relay in chain.relays] == [
        (1, "127.0.0.1"),
        (2, "192.0.2.10"),
    ]
    assert chain.relays[1].raw.startswith("from mail.example.org (mail.example.org [192.0.2.10])")


def test_fetch_marker_outside_the_trusted_part_is_ignored() -> None:
    chain = build_chain(message(ORG, FETCHMAIL, SPAM), TrustSettings())
    assert [relay.ip for relay in chain.relays] == ["192.0.2.10", "198.51.100.66"]


def test_originating_ip_inside_trusted_networks_is_not_checked() -> None:
    chain = build_chain(message(SPAM, "X-Originating-IP: [192.0.2.77]"), trust(("192.0.2.0/24",)))
    assert [relay.ip for relay in chain.checked] == ["198.51.100.66"]
    assert chain.relays[-1].originating


def test_every_ip_of_every_originating_header_is_collected() -> None:
    chain = build_chain(
        message(
            ORG,
            "X-Originating-IP: [198.51.100.33]",
            "X-Originating-IP: 198.51.100.34, 2001:DB8::34",
            "X-MS-Exchange-CrossTenant-OriginalAttributedTenantConnectingIp: "
            "TenantId=72f988bf-86f1-41af-91ab-2d7cd011db47;Ip=[203.0.113.35];Helo=[mail]",
        ),
        TrustSettings(),
    )
    assert [r.ip for r in chain.relays if r.originating] == [
        "198.51.100.33",
        "198.51.100.34",
        "2001:db8::34",
        "203.0.113.35",
    ]


def test_relay_as_dict_carries_the_explain_json_fields() -> None:
    relay = build_chain(message(ORG), TrustSettings()).relays[0]
    assert relay.as_dict() == {
        "ip": "192.0.2.10",
        "rdns": "mail.example.org",
        "helo": "mail.example.org",
        "by": "mx.example.net",
        "ident": "",
        "envfrom": "",
        "id": "4Pq7Zk1xyz",
        "auth": "",
        "msa": False,
        "hop": 1,
        "trusted": False,
        "internal": False,
        "originating": False,
        "skipped": False,
    }


def test_merged_settings_add_up_lines_and_headers() -> None:
    own = trust(("192.0.2.0/24",))
    other = TrustSettings(
        trusted=NetworkList.parse(["198.51.100.0/24"]), originating_ip_headers=("X-Client-IP",)
    )
    merged = own.merged(other)
    assert merged.trusted is not None
    assert merged.trusted.as_text() == ("192.0.2.0/24", "198.51.100.0/24")
    assert merged.internal is None
    assert merged.originating_headers()[-1] == "X-Client-IP"
    assert (
        own.merged(TrustSettings(originating_ip_headers=None)).originating_headers()
        == own.originating_headers()
    )
