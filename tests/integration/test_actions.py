"""Sender group actions and allow-list scopes, end to end with aiospamc.

The issue's acceptance case: an open proxy three hops deep is caught with
action ``delete``, passes with ``reject`` (connecting IP only), and passes
once that IP is allow-listed with scope ``hop``.
"""

from __future__ import annotations

import aiospamc
import pytest

from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.samples import message

pytestmark = pytest.mark.integration


async def check(server: RunningServer, name: str) -> tuple[bool, float, bytes]:
    host, port = server.address()
    response = await aiospamc.check(message(name), host=host, port=port)
    spam = response.headers.spam
    process = await aiospamc.process(message(name), host=host, port=port)
    return spam.value, spam.score, process.body


async def test_deep_listed_ip_is_caught_with_delete(write_config: ConfigWriter) -> None:
    with RunningServer(write_config(action="delete")) as server:
        is_spam, score, body = await check(server, "listed-deep.eml")
    assert is_spam
    assert score == 8.0
    assert b"X-Oplguard-Verdict: delete; ip=203.0.113.66; hop=3; list=opl" in body


async def test_deep_listed_ip_passes_with_reject(write_config: ConfigWriter) -> None:
    with RunningServer(write_config(action="reject")) as server:
        is_spam, score, body = await check(server, "listed-deep.eml")
    assert not is_spam
    assert score == 0.0
    assert b"X-Oplguard-Verdict: pass" in body


async def test_reject_still_catches_the_connecting_ip(write_config: ConfigWriter) -> None:
    with RunningServer(write_config(action="reject")) as server:
        is_spam, _, body = await check(server, "listed-connecting.eml")
    assert is_spam
    assert b"X-Oplguard-Verdict: reject; ip=192.0.2.99; hop=1; list=opl" in body


async def test_hop_allow_entry_lets_the_deep_ip_through(write_config: ConfigWriter) -> None:
    extra = '[[allowed_senders]]\nip = "203.0.113.66"\nscope = "hop"\ncomment = "partner"\n'
    with RunningServer(write_config(action="delete", extra=extra)) as server:
        is_spam, score, body = await check(server, "listed-deep.eml")
    assert not is_spam
    assert score == -5.0
    assert b"allowed=203.0.113.66;" in body


async def test_connection_allow_entry_does_not_exempt_a_deep_hop(
    write_config: ConfigWriter,
) -> None:
    # Allow-listing the connecting IP is what the support article says may not
    # work: the offending IP is deeper, so the message is still caught.
    extra = '[[allowed_senders]]\nip = "203.0.113.66"\nscope = "connection"\n'
    with RunningServer(write_config(action="delete", extra=extra)) as server:
        is_spam, _, _ = await check(server, "listed-deep.eml")
    assert is_spam


async def test_connection_allow_entry_skips_all_checks(write_config: ConfigWriter) -> None:
    extra = '[[allowed_senders]]\nip = "192.0.2.10"\nscope = "connection"\n'
    with RunningServer(write_config(action="delete", extra=extra)) as server:
        is_spam, score, _ = await check(server, "listed-deep.eml")
    assert not is_spam
    assert score == -5.0


async def test_expired_allow_entry_no_longer_applies(write_config: ConfigWriter) -> None:
    extra = '[[allowed_senders]]\nip = "203.0.113.66"\nscope = "hop"\nexpires = 2020-01-01\n'
    with RunningServer(write_config(action="delete", extra=extra)) as server:
        is_spam, _, _ = await check(server, "listed-deep.eml")
    assert is_spam


async def test_disabled_group_does_not_score(write_config: ConfigWriter) -> None:
    cfg = write_config(action="delete")
    text = cfg.read_text().replace('symbol = "OPL"', 'symbol = "OPL"\nenabled = false')
    cfg.write_text(text)
    with RunningServer(cfg) as server:
        is_spam, score, _ = await check(server, "listed-connecting.eml")
    assert not is_spam
    assert score == 0.0


async def test_blocked_sender_rejects_connecting_ip(write_config: ConfigWriter) -> None:
    extra = '[[blocked_senders]]\nip = "192.0.2.0/28"\ncomment = "abuse desk ticket 12"\n'
    with RunningServer(write_config(extra=extra)) as server:
        is_spam, score, body = await check(server, "clean.eml")
    assert is_spam
    assert score == 20.0
    assert b"list=blocked_senders" in body


async def test_ipv6_prefix_listing_catches_the_sender(write_config: ConfigWriter) -> None:
    with RunningServer(write_config()) as server:
        is_spam, _, body = await check(server, "listed-ipv6.eml")
    assert is_spam
    assert b"ip=2001:db8:bad::25" in body


async def test_aiospamc_commands_parse(write_config: ConfigWriter) -> None:
    with RunningServer(write_config()) as server:
        host, port = server.address()
        ping = await aiospamc.ping(host=host, port=port)
        symbols = await aiospamc.symbols(message("listed-deep.eml"), host=host, port=port)
        report = await aiospamc.report(message("listed-deep.eml"), host=host, port=port)
        headers = await aiospamc.headers(message("clean.eml"), host=host, port=port)
        ifspam = await aiospamc.report_if_spam(message("clean.eml"), host=host, port=port)
    assert ping.message == "PONG"
    assert symbols.body == b"OPL_RELAY"
    assert b"203.0.113.66 at hop 3" in report.body
    assert headers.body.endswith(b"\r\n\r\n")
    assert b"hello" not in headers.body
    assert ifspam.body == b""


async def test_aiospamc_compressed_request_is_inflated_and_scored(
    write_config: ConfigWriter,
) -> None:
    with RunningServer(write_config()) as server:
        host, port = server.address()
        listed = await aiospamc.check(
            message("listed-connecting.eml"), host=host, port=port, compress=True
        )
        clean = await aiospamc.check(message("clean.eml"), host=host, port=port, compress=True)
    assert listed.headers.spam.value is True
    assert listed.headers.spam.score == 10.0
    assert clean.headers.spam.value is False
