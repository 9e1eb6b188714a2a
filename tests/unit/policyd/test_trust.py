"""One trust decision for an SMTP client (mail/relays.py ``trusts_client``): the policy
daemon on ``client_address`` and the scoring service on a message's first hop agree."""

from __future__ import annotations

import pytest

from oplguard.mail.networks import NetworkList
from oplguard.mail.relays import TrustSettings, build_chain, trusts_client

CLIENTS = ("192.0.2.99", "192.0.2.200", "203.0.113.130", "10.1.2.3", "2001:db8::1", "127.0.0.1")
SETTINGS = {
    "inferred": TrustSettings(),
    "trusted": TrustSettings(trusted=NetworkList.parse(["192.0.2.0/25", "2001:db8::/32"])),
    "internal only": TrustSettings(internal=NetworkList.parse(["203.0.113.0/24"])),
}


def first_hop(ip: str) -> bytes:
    return (
        f"Received: from client.example.org (client.example.org [{ip}])\r\n"
        "\tby mx.example.net (Postfix) with ESMTP id 4XyZ1;\r\n"
        "\tTue,  1 Oct 2024 10:00:00 +0000\r\n\r\nbody\r\n"
    ).encode()


@pytest.mark.parametrize("name", sorted(SETTINGS))
@pytest.mark.parametrize("ip", CLIENTS)
def test_policyd_trusts_exactly_the_clients_the_scanner_trusts(name: str, ip: str) -> None:
    trust = SETTINGS[name]
    (relay,) = build_chain(first_hop(ip), trust).relays
    assert trusts_client(trust, ip) == relay.trusted


def test_a_client_inside_trusted_networks_is_trusted() -> None:
    trust = SETTINGS["trusted"]
    assert trusts_client(trust, "192.0.2.99")
    assert not trusts_client(trust, "192.0.2.200")
