"""DNSBL sources against a real rbldnsd on loopback, and end to end through the server."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import aiospamc
import pytest

from oplguard.config.model import DnsblConfig
from oplguard.lists.dnsbl import AnswerStatus, DnsblSource, query_all
from tests.conftest import ConfigWriter
from tests.integration.dns import rbldnsd
from tests.integration.harness import RunningServer
from tests.samples import message

pytestmark = pytest.mark.integration

ZONES = {
    "opl4.zone": (
        "opl.test:ip4set",
        ":127.0.0.2:Open proxy, see https://lookup.example/ip/$\n"
        "192.0.2.99\n"
        "203.0.113.0/24 :127.0.0.3:zombie network\n"
        "198.51.100.250 :127.255.255.254:query refused\n"
        "198.51.100.251 :192.0.2.1:parked domain answer\n"
        "127.0.0.2\n",
    ),
    "opl6.zone": ("opl.test:ip6trie", "2001:db8:bad::/48\n"),
}
CODES = (("127.0.0.2", "open-proxy"), ("127.0.0.3", "zombie"))


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    with rbldnsd(ZONES) as port:
        yield port


def source(port: int, **kwargs: object) -> DnsblSource:
    cfg = DnsblConfig(
        "opl-dns", "opl.test", nameservers=(f"127.0.0.1:{port}",), timeout_s=1.0, returncodes=CODES
    )
    return DnsblSource(replace(cfg, **kwargs))


@pytest.mark.parametrize(
    ("ip", "status", "category"),
    [
        ("192.0.2.99", AnswerStatus.LISTED, "open-proxy"),
        ("203.0.113.7", AnswerStatus.LISTED, "zombie"),
        ("192.0.2.10", AnswerStatus.CLEAN, ""),
        ("2001:db8:bad::25", AnswerStatus.LISTED, "open-proxy"),
        ("2001:db8::25", AnswerStatus.CLEAN, ""),
        ("127.0.0.2", AnswerStatus.LISTED, "open-proxy"),
        ("198.51.100.250", AnswerStatus.ERROR, ""),
        ("198.51.100.251", AnswerStatus.ERROR, ""),
    ],
    ids=[
        "listed-v4",
        "listed-by-code",
        "clean-v4",
        "listed-v6-prefix",
        "clean-v6",
        "rfc5782-test-entry",
        "provider-error-code",
        "answer-outside-127",
    ],
)
async def test_answers_from_rbldnsd(dns_port: int, ip: str, status: str, category: str) -> None:
    answer = await source(dns_port).query(ip)
    assert (answer.status, answer.category) == (status, category)


async def test_provider_error_is_never_a_hit(dns_port: int) -> None:
    answer = await source(dns_port).query("198.51.100.250")
    assert answer.detail == "provider error code 127.255.255.254"


async def test_unmapped_return_code_is_not_a_hit(dns_port: int) -> None:
    answer = await source(dns_port, returncodes=(("127.0.0.3", "zombie"),)).query("192.0.2.99")
    assert answer.status == AnswerStatus.CLEAN


async def test_bitmask_return_code(dns_port: int) -> None:
    answer = await source(dns_port, returncodes=(("mask:2", "spam-source"),)).query("192.0.2.99")
    assert (answer.status, answer.category) == (AnswerStatus.LISTED, "spam-source")


async def test_hanging_server_is_an_error_within_the_timeout() -> None:
    # A real UDP socket that never answers: the "DNS server hangs" fault.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        answer = await source(port, timeout_s=0.3).query("192.0.2.99")
    assert answer.status == AnswerStatus.ERROR
    assert "Timeout" in answer.detail


async def test_per_message_deadline_bounds_all_queries() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        slow = source(silent.getsockname()[1], timeout_s=5.0)
        answers = await query_all([slow], ["192.0.2.1", "192.0.2.2"], deadline_s=0.3)
    assert {a.status for a in answers.values()} == {AnswerStatus.ERROR}
    assert all("deadline" in a.detail for a in answers.values())


async def test_answers_are_cached_for_their_ttl() -> None:
    with rbldnsd({"z.zone": ("opl.test:ip4set", ":127.0.0.2:x\n192.0.2.99\n")}) as port:
        cached = source(port)
        first = await cached.query("192.0.2.99")
    second = await cached.query("192.0.2.99")  # rbldnsd is gone now
    assert first.status == second.status == AnswerStatus.LISTED


def dns_config(port: int, on_error: str = "ignore", action: str = "delete") -> str:
    return f"""
[[dnsbls]]
name = "opl-dns"
zone = "opl.test"
nameservers = ["127.0.0.1:{port}"]
timeout_s = 0.5
on_error = "{on_error}"
[dnsbls.returncodes]
"127.0.0.2" = "open-proxy"
"127.0.0.3" = "zombie"

[groups.dns_opl]
lists = ["opl-dns"]
action = "{action}"
symbol = "DNS_OPL"
"""


async def test_server_scores_a_dns_listed_relay(write_config: ConfigWriter, dns_port: int) -> None:
    deep = message("listed-deep.eml").replace(b"203.0.113.66", b"203.0.113.9")
    with RunningServer(write_config(extra=dns_config(dns_port))) as server:
        host, port = server.address()
        response = await aiospamc.process(deep, host=host, port=port)
    assert b"tests=DNS_OPL_RELAY" in response.body
    assert b"ip=203.0.113.9; hop=3; list=opl-dns" in response.body


@pytest.mark.parametrize(
    ("on_error", "score"), [("ignore", 0.0), ("score", 1.0)], ids=["ignore", "score"]
)
async def test_dead_dns_list_follows_its_error_policy(
    write_config: ConfigWriter, on_error: str, score: float
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        cfg = write_config(extra=dns_config(silent.getsockname()[1], on_error))
        with RunningServer(cfg) as server:
            host, port = server.address()
            response = await aiospamc.check(message("clean.eml"), host=host, port=port)
    assert response.headers.spam.score == score


async def test_dead_dns_list_with_tempfail_defers(write_config: ConfigWriter) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        cfg = write_config(extra=dns_config(silent.getsockname()[1], "tempfail"))
        with RunningServer(cfg) as server:
            host, port = server.address()
            with pytest.raises(aiospamc.responses.TemporaryFailureException):
                await aiospamc.check(message("clean.eml"), host=host, port=port)


WRONG_ZONES = {"wrong.zone": ("opl.test:ip4set", ":127.0.0.2:Open proxy\n203.0.113.0/24\n")}
BREAKER_DEADLINE_S = 30.0


async def test_list_answering_wrongly_is_monitor_only_and_says_so(
    write_config: ConfigWriter,
) -> None:
    # The zone lacks the RFC 5782 test entry 127.0.0.2: its answers are wrong, not
    # missing.  Issue 20: REPORT showed "-> delete" beside "Verdict: pass" unmarked.
    deep = message("listed-deep.eml").replace(b"203.0.113.66", b"203.0.113.9")
    with rbldnsd(WRONG_ZONES) as dns_port:
        cfg = write_config(
            extra=dns_config(dns_port, on_error="tempfail"), server="list_probe_interval_s = 60"
        )
        with RunningServer(cfg) as server:
            health = server.server.service.scanner.health["opl-dns"]
            deadline = time.monotonic() + BREAKER_DEADLINE_S
            while health.state != "monitor-only":  # two wrong probes, a few seconds apart
                assert time.monotonic() < deadline, health.as_dict()
                await asyncio.sleep(0.1)
            host, port = server.address()
            report = await aiospamc.report(deep, host=host, port=port)
    assert health.reason == "probe answered wrongly: 127.0.0.2 not listed"
    text = report.body.decode()
    assert "Verdict: pass" in text
    assert "on opl-dns (open-proxy) -> delete [monitor-only, not counted]" in text
