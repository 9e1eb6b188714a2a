"""Upstream mode: oplguard forwards to a real SpamAssassin spamd and merges the answers.

Merged: scores add, rules and reports combine, reply shapes are spamd's for
the client's command and version.  A down, slow or babbling upstream leaves
oplguard's own verdict, a warning in the log and a line in the report.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiospamc
import pytest

from oplguard.config.model import Listener, UpstreamConfig
from oplguard.policy.verdict import Symbol, Verdict
from oplguard.server.upstream import (
    UpstreamAnswer,
    ask,
    merge_report,
    merge_verdict,
)
from oplguard.spamd.messages import Request, ScanResult, Verb
from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.integration.mta.common import free_port, need_program
from tests.integration.mta.spamd import DEEP_SCORE, running_spamd
from tests.samples import message

pytestmark = pytest.mark.integration


def upstream_config(
    write_config: ConfigWriter, port: int, timeout_s: float = 10.0, threshold: str = "upstream"
) -> Path:
    extra = (
        f'[upstream]\naddress = "127.0.0.1:{port}"\ntimeout_s = {timeout_s}\n'
        f'threshold = "{threshold}"\n'
    )
    return write_config(action="delete", extra=extra)


@pytest.fixture(scope="module")
def spamd_port() -> Iterator[int]:
    with running_spamd() as spamd:
        yield spamd.port


@pytest.fixture
def merged(write_config: ConfigWriter, spamd_port: int) -> Iterator[tuple[str, int]]:
    with RunningServer(upstream_config(write_config, spamd_port)) as server:
        yield server.address()


# region merged answers from a real spamd


async def test_check_adds_the_scores(merged: tuple[str, int]) -> None:
    host, port = merged
    response = await aiospamc.check(message("listed-deep.eml"), host=host, port=port)
    spam = response.headers.spam
    assert (spam.value, spam.score, spam.threshold) == (True, 8.0 + DEEP_SCORE, 5.0)


async def test_symbols_combine_sorted(merged: tuple[str, int]) -> None:
    host, port = merged
    response = await aiospamc.symbols(message("listed-deep.eml"), host=host, port=port)
    assert response.body == b"OPLTEST_HOPS_BODY,OPLTEST_PROXY_SUBJECT,OPL_RELAY"


async def test_report_has_both_reports(merged: tuple[str, int]) -> None:
    host, port = merged
    response = await aiospamc.report(message("listed-deep.eml"), host=host, port=port)
    body = response.body.decode()
    assert "203.0.113.66 at hop" in body
    assert "--- SpamAssassin (upstream spamd 127.0.0.1:" in body
    assert " 2.5 OPLTEST_PROXY_SUBJECT  Subject talks about an open proxy" in body
    assert body.index("OPL_RELAY") < body.index("OPLTEST_PROXY_SUBJECT")


async def test_process_headers_carry_the_merged_verdict(merged: tuple[str, int]) -> None:
    host, port = merged
    response = await aiospamc.process(message("listed-deep.eml"), host=host, port=port)
    assert b"X-Spam-Status: Yes, score=11.5 required=5.0 tests=OPLTEST_HOPS_BODY," in response.body
    assert b"X-Oplguard-Verdict: delete; ip=203.0.113.66" in response.body
    assert response.body.endswith(b"The open proxy is three hops deep.\n")


async def test_clean_message_scores_zero_from_both(merged: tuple[str, int]) -> None:
    host, port = merged
    response = await aiospamc.check(message("clean.eml"), host=host, port=port)
    assert (response.headers.spam.value, response.headers.spam.score) == (False, 0.0)


def test_hooks_see_the_verdict_the_mta_gets(write_config: ConfigWriter, spamd_port: int) -> None:
    # Issue 15: tracking, metrics and trace got the verdict before the upstream merge.
    seen: list[tuple[float, tuple[str, ...]]] = []  # (score, symbols) per scan
    with RunningServer(upstream_config(write_config, spamd_port)) as server:
        server.server.service.on_scan.append(
            lambda _request, scan, _mid: seen.append(
                (scan.verdict.score, tuple(s.name for s in scan.verdict.symbols))
            )
        )
        result = subprocess.run(
            [need_program("spamc"), "-d", "127.0.0.1", "-p", str(server.address()[1]), "-c"],
            input=message("listed-deep.eml"),
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert result.stdout == b"11.5/5.0\n"
    # The merged score (ours 8.0 + SpamAssassin's), not our own 8.0.
    assert seen and seen[0][0] == 8.0 + DEEP_SCORE


def raw(address: tuple[str, int], data: bytes) -> bytes:
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


CR_CR_LF = (
    b"Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n"
    b"\tby mx.example.net (Postfix) with ESMTP id 4XyZ1; Tue, 1 Oct 2024 10:00:00 +0000\r\n"
    b"Subject: a lone CR follows\r\n\r\r\nMessage-ID: <after-the-cr@example.org>\r\n"
    b"\r\nbody line\r\n"
)


def test_headers_reply_ends_where_spamassassins_does(
    merged: tuple[str, int], spamd_port: int
) -> None:
    # Issue 15: our rewrite ended the header section at a "\r\r\n" line, SpamAssassin
    # (and our scan) go on to the empty line: the HEADERS reply lost the fields after it.
    request = b"HEADERS SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(CR_CR_LF) + CR_CR_LF
    for address in (("127.0.0.1", spamd_port), merged):
        reply = raw(address, request)
        assert reply.startswith(b"SPAMD/1.1 0 EX_OK\r\n"), reply
        part = reply.partition(b"\r\n\r\n")[2]
        assert b"\r\r\nMessage-ID: <after-the-cr@example.org>\r\n" in part, (address, part)
        assert part.endswith(b"\r\n\r\n") and b"body line" not in part, (address, part)


def test_exim_shaped_request_gets_the_12_reply_shape(merged: tuple[str, int]) -> None:
    body = message("listed-deep.eml")
    request = b"REPORT SPAMC/1.2\r\nUser: nobody\r\nContent-length: %d\r\n\r\n" % len(body)
    reply = raw(merged, request + body)
    assert reply.startswith(b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 11.5 / 5.0\r\n\r\n")
    assert b"Content-length" not in reply


def test_spamc_sees_the_merged_score(merged: tuple[str, int]) -> None:
    result = subprocess.run(
        [need_program("spamc"), "-d", merged[0], "-p", str(merged[1]), "-c"],
        input=message("listed-deep.eml"),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert (result.stdout, result.returncode) == (b"11.5/5.0\n", 1)


async def test_upstream_threshold_decides_by_default(
    write_config: ConfigWriter, spamd_port: int
) -> None:
    # SpamAssassin alone (3.5) is under both thresholds here; with a lower
    # oplguard threshold only "oplguard" mode flags it.
    for threshold, expected in (("upstream", (False, 5.0)), ("oplguard", (True, 3.0))):
        path = upstream_config(write_config, spamd_port, threshold=threshold)
        path.write_text(path.read_text().replace("required_score = 5.0", "required_score = 3.0"))
        with RunningServer(path) as server:
            host, port = server.address()
            body = message("listed-deep.eml").replace(b"203.0.113.66", b"198.51.100.9")
            spam = (await aiospamc.check(body, host=host, port=port)).headers.spam
        assert (spam.value, spam.threshold) == expected
        assert spam.score == DEEP_SCORE


# endregion
# region an upstream in trouble


@contextmanager
def misbehaving(reply: bytes | None, byte_delay_s: float = 0.0) -> Iterator[int]:
    """A TCP peer that reads the request, then sends ``reply`` (None: never answers).

    A fake on purpose: a real spamd cannot be made to stall or babble on
    demand.  ``byte_delay_s`` sends the reply one byte at a time (a trickle).
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.05)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.settimeout(10)
                while conn.recv(65536):
                    pass
                if reply is None:
                    stopping.wait(30)
                elif byte_delay_s:
                    for byte in reply:
                        if stopping.wait(byte_delay_s):
                            break
                        conn.sendall(bytes([byte]))
                else:
                    conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join(10)
        listener.close()


GARBAGE = [
    b"",
    b"HTTP/1.0 200 OK\r\n\r\nhello",
    b"SPAMD/1.1 0 EX_OK\r\n\r\n",
    b"SPAMD/1.1 0 EX_OK\r\nSpam: maybe ; x / y\r\n\r\n",
    b"SPAMD/1.0 76 Bad header line: (EOF during headers)\r\n",
    b"SPAMD/1.1 0 EX_OK\r\nContent-length: 99\r\nSpam: True ; 1.0 / 5.0\r\n\r\nshort",
    b"SPAMD/1.1 0 EX_OK\r\nContent-length: 8\r\nSpam: True ; 1.0 / 5.0\r\n\r\nA B;C,\x00",
    bytes(range(256)) * 4,
    b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1.0 / 5.0\r\n\r\n" + b"A," * (1 << 20),
]
GARBAGE_IDS = [
    "empty",
    "http",
    "no-spam-header",
    "bad-spam-header",
    "ex-protocol",
    "short-body",
    "bad-symbols",
    "binary",
    "over-1-MiB",
]


def request_of(verb: Verb, body: bytes) -> Request:
    """A parsed request as the spamd core hands it to the service."""
    from oplguard.spamd.connection import SpamdConnection
    from oplguard.spamd.messages import Limits

    wire = b"%s SPAMC/1.5\r\nUser: alice\r\nContent-length: %d\r\n\r\n" % (
        verb.value.encode(),
        len(body),
    )
    connection = SpamdConnection(Limits())
    connection.receive_data(wire + body)
    event = connection.next_event()
    assert isinstance(event, Request)
    return event


@pytest.mark.parametrize("reply", GARBAGE, ids=GARBAGE_IDS)
@pytest.mark.parametrize("verb", [Verb.CHECK, Verb.SYMBOLS, Verb.REPORT, Verb.PROCESS])
async def test_garbage_from_upstream_is_a_failure_never_an_exception(
    reply: bytes, verb: Verb, caplog: pytest.LogCaptureFixture
) -> None:
    with misbehaving(reply) as port:
        cfg = UpstreamConfig(address=Listener("tcp", "127.0.0.1", port), timeout_s=5.0)
        outcome = await ask(cfg, request_of(verb, message("clean.eml")))
    assert outcome is not None and outcome.result is None and outcome.failure, outcome
    assert f"upstream spamd 127.0.0.1:{port} failed" in caplog.text


@pytest.mark.parametrize("byte_delay_s", [0.0, 0.2], ids=["silent", "trickle"])
async def test_slow_upstream_times_out(
    caplog: pytest.LogCaptureFixture, byte_delay_s: float
) -> None:
    # The timeout covers the whole exchange: a peer that keeps sending a byte
    # now and then (a valid reply, 0.2 s per byte) cannot stretch it.
    reply = None if not byte_delay_s else b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"
    with misbehaving(reply, byte_delay_s) as port:
        cfg = UpstreamConfig(address=Listener("tcp", "127.0.0.1", port), timeout_s=0.5)
        outcome = await ask(cfg, request_of(Verb.CHECK, message("clean.eml")))
    # Only asyncio.timeout's TimeoutError gives this detail; no clock is read here.
    assert outcome == UpstreamAnswer(f"127.0.0.1:{port}", None, "no answer within 0.5 s")
    assert "no answer within 0.5 s; answering with oplguard's own verdict" in caplog.text


async def test_no_upstream_and_non_scan_commands_are_not_forwarded() -> None:
    assert await ask(UpstreamConfig(), request_of(Verb.CHECK, b"")) is None
    cfg = UpstreamConfig(address=Listener("tcp", "127.0.0.1", free_port()))
    ping = request_of(Verb.PING, b"")
    assert await ask(cfg, ping) is None


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (None, "no answer within 0.5 s"),
        (b"HTTP/1.0 200 OK\r\n\r\nhello", "ParseError: Protocol name does not match"),
    ],
    ids=["slow", "garbage"],
)
async def test_server_answers_alone_when_upstream_fails(
    write_config: ConfigWriter,
    caplog: pytest.LogCaptureFixture,
    reply: bytes | None,
    why: str,
) -> None:
    caplog.set_level(logging.WARNING, "oplguard.upstream")
    with misbehaving(reply) as port:
        path = upstream_config(write_config, port, timeout_s=0.5)
        with RunningServer(path) as server:
            host, server_port = server.address()
            check = await aiospamc.check(message("listed-deep.eml"), host=host, port=server_port)
            report = await aiospamc.report(message("listed-deep.eml"), host=host, port=server_port)
    assert (check.headers.spam.score, check.headers.spam.threshold) == (8.0, 5.0)
    assert f"Upstream spamd 127.0.0.1:{port} unavailable (" in report.body.decode()
    assert "this verdict is oplguard's own" in report.body.decode()
    assert why in caplog.text


async def test_server_answers_alone_when_upstream_is_down(
    write_config: ConfigWriter, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    with RunningServer(upstream_config(write_config, port)) as server:
        host, server_port = server.address()
        response = await aiospamc.symbols(message("listed-deep.eml"), host=host, port=server_port)
    assert response.body == b"OPL_RELAY"
    assert f"upstream spamd 127.0.0.1:{port} failed" in caplog.text


# endregion
# region the merge, pure


def verdict(score: float = 8.0) -> Verdict:
    symbol = Symbol("OPL_RELAY", score, "Open proxy at hop 3")
    return Verdict(score, 5.0, (symbol,), (), (), "delete", ("203.0.113.66",))


def test_merge_adds_scores_and_appends_new_rules() -> None:
    answer = UpstreamAnswer("127.0.0.1:783", ScanResult(3.5, 6.0, ("BAYES_99", "OPL_RELAY"), ""))
    merged = merge_verdict(verdict(), answer, "upstream")
    assert merged.score == 11.5
    assert merged.required_score == 6.0
    assert [s.name for s in merged.symbols] == ["OPL_RELAY", "BAYES_99"]
    assert merge_verdict(verdict(), answer, "oplguard").required_score == 5.0


def test_merge_keeps_our_verdict_on_failure_or_without_upstream() -> None:
    failure = UpstreamAnswer("127.0.0.1:783", None, "ConnectionRefusedError")
    assert merge_verdict(verdict(), failure, "upstream") == verdict()
    assert merge_verdict(verdict(), None, "upstream") == verdict()


def test_merge_report() -> None:
    ours = "our report\n\n"
    assert merge_report(ours, None) == ours
    answer = UpstreamAnswer("127.0.0.1:783", ScanResult(3.5, 5.0, (), "SA report\n"))
    assert merge_report(ours, answer) == (
        "our report\n\n--- SpamAssassin (upstream spamd 127.0.0.1:783) ---\nSA report\n"
    )
    failure = UpstreamAnswer("127.0.0.1:783", None, "no answer within 2 s")
    assert merge_report(ours, failure).endswith(
        "Upstream spamd 127.0.0.1:783 unavailable (no answer within 2 s): "
        "this verdict is oplguard's own.\n\n"
    )


# endregion
