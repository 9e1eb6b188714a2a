"""Generic (residential) PTR name heuristics; the DNS side is tested against nsd in integration."""

from __future__ import annotations

import asyncio

import pytest
from tests.integration.web_harness import free_udp_port

from oplguard.web.rdns import RdnsStatus, diagnose, generic_name, ip_digit_forms, make_resolver


@pytest.mark.parametrize(
    ("name", "ip", "kind", "pattern"),
    [
        ("dsl-192-0-2-137.pool.isp.example", "192.0.2.137", "ip-digits", "192-0-2-137"),
        ("137-2-0-192.customers.isp.example", "192.0.2.137", "ip-digits", "137-2-0-192"),
        ("c0000289.isp.example", "192.0.2.137", "ip-digits", "c0000289"),
        ("host192.000.002.137.isp.example", "192.0.2.137", "ip-digits", "192.000.002.137"),
        ("cpe-node7.cable.isp.example", "192.0.2.1", "keyword", "cpe"),
        ("dynamic.isp.example", "192.0.2.1", "keyword", "dynamic"),
        (
            "2001-db8-0-0-0-0-0-25.v6.isp.example",
            "2001:db8::25",
            "ip-digits",
            "2001-db8-0-0-0-0-0-25",
        ),
    ],
    ids=["dashed", "reversed", "hex", "zero-padded", "cpe", "dynamic-first-label", "ipv6"],
)
def test_generic_names(name: str, ip: str, kind: str, pattern: str) -> None:
    match = generic_name(name, ip)
    assert match is not None, name
    assert (match.kind, match.pattern) == (kind, pattern)


@pytest.mark.parametrize(
    ("name", "ip"),
    [
        ("mail.example.com", "192.0.2.137"),
        ("mx1.dyn.com", "192.0.2.137"),  # the registered domain is not judged
        ("smtp-out-1921.example.net", "192.0.2.137"),
        ("mail.192-0-2-1370.example", "192.0.2.137"),  # digits continue: another address
    ],
    ids=["own-name", "domain-word", "other-digits", "longer-number"],
)
def test_proper_names_are_not_generic(name: str, ip: str) -> None:
    assert generic_name(name, ip) is None


def test_ip_digit_forms_cover_dashed_dotted_and_hex() -> None:
    forms = ip_digit_forms("192.0.2.7")
    assert {"192-0-2-7", "7-2-0-192", "192.0.2.7", "192-000-002-007", "c0000207"} <= set(forms)


def test_dead_resolver_is_a_timeout_result_not_an_error() -> None:
    """A UDP port nobody answers on: the fault a real DNS server cannot be asked to produce."""
    resolver = make_resolver([("127.0.0.1", free_udp_port())], 0.2)
    result = asyncio.run(diagnose("192.0.2.99", resolver, 0.2))
    assert result.status == RdnsStatus.TIMEOUT and "0.2 s" in result.detail
