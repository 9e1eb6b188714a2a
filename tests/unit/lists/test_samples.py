"""The shipped sample lists load, list the test IPs and stay in documentation ranges."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest

from oplguard.config import loader as config_loader
from oplguard.lists.block import ListSnapshot
from oplguard.lists.formats import parse_text
from oplguard.lists.store import ListStore

# RFC 5737 TEST-NET-1/2/3, RFC 2544 benchmarking, RFC 3849 IPv6 documentation.
DOCUMENTATION = [
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "2001:db8::/32")
]
# Other tests send mail from these and expect no local list to know them.
NEVER_LISTED = ["192.0.2.10", "192.0.2.20", "198.51.100.7", "203.0.113.7"]


@pytest.fixture(scope="module")
def samples() -> ListSnapshot:
    cfg = config_loader.load(config_loader.default_config_path())
    store = ListStore(cfg.lists)
    return store.load()


def test_each_sample_list_has_its_category(samples: ListSnapshot) -> None:
    assert [(b.config.name, b.config.category, b.config.format) for b in samples.lists] == [
        ("opl", "open-proxy", "plain"),
        ("zombies", "zombie", "plain"),
        ("spam-sources", "spam-source", "plain"),
    ]
    for block in samples.lists:  # a few dozen lines each, whatever the date today
        text = block.config.path.read_text(encoding="utf-8")
        assert len(parse_text(text, block.config.format, str(block.config.path))) >= 15


@pytest.mark.parametrize("ip", ["192.0.2.99", "203.0.113.66", "2001:db8:bad::", "2001:db8:bad::25"])
def test_test_ips_are_on_the_opl_only(samples: ListSnapshot, ip: str) -> None:
    assert [hit.list_name for hit in samples.lookup(ip)] == ["opl"]


def test_the_ipv6_farm_is_listed_as_a_48(samples: ListSnapshot) -> None:
    assert samples.lookup("2001:db8:bad:ffff::1")[0].entry.network == "2001:db8:bad::/48"


@pytest.mark.parametrize("ip", NEVER_LISTED)
def test_clean_test_ips_are_on_no_list(samples: ListSnapshot, ip: str) -> None:
    assert samples.lookup(ip) == ()


def test_test_ips_never_expire(samples: ListSnapshot) -> None:
    far = datetime(2100, 1, 1, tzinfo=UTC)
    for ip in ("192.0.2.99", "203.0.113.66", "2001:db8:bad::1"):
        assert samples.lookup(ip, now=far) != ()


def test_every_listed_network_is_a_documentation_range(samples: ListSnapshot) -> None:
    for block in samples.lists:
        for network, entry in block.listed():
            first, last = int(network.network_address), int(network.broadcast_address)
            assert any(
                doc.version == network.version
                and int(doc.network_address) <= first
                and last <= int(doc.broadcast_address)
                for doc in DOCUMENTATION
            ), (block.config.name, entry.line)
            assert entry.reason, (block.config.name, entry.line)


def test_a_more_specific_sample_entry_gives_its_own_reason(samples: ListSnapshot) -> None:
    assert samples.lookup("192.0.2.166")[0].entry.reason.startswith("Open Squid proxy")
    assert samples.lookup("192.0.2.167")[0].entry.reason.startswith("Proxy reseller range")
