"""DNS list faults under a bounded, paced load (issue 20): a real rbldnsd SIGSTOPped or
killed while CHECKs keep arriving, then resumed or started again.

Each run prints, per phase, how many requests were sent, answered correctly, refused and
failed, and how long DNS-listed mail took to be flagged again.  It shows that no locally
listed message is ever answered as ham or refused because the DNS list is down, that the
breaker answers lookups of the unreachable list at once (with the real reason logged), and
that DNS-listed mail is flagged again within seconds of DNS returning.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from oplguard.lists.health import UNANSWERED_TO_TRIP
from tests.conftest import ConfigWriter
from tests.integration.dns import SCORED_WHEN_DOWN, Rbldnsd, opl_dns_tables, running_rbldnsd
from tests.integration.harness import RunningServer

pytestmark = pytest.mark.integration

IO_TIMEOUT_S = 20.0
# Bounded: 50 requests a second for 8 seconds (400 requests), 32 connection slots, the
# default DNS timeout: waiting out each timeout would need 50 * 2.0 = 100 slots.
RATE_PER_S = 50
HEALTHY_S, OUTAGE_S, AFTER_S = 1.0, 2.0, 5.0
DNS_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 32
# DNS-listed mail must be flagged again well before the load ends (the breaker
# probes an unreachable list every FAST_PROBE_INTERVAL_S): the last second of
# the load is all flagged.
SETTLED_TAIL_S = 1.0
KINDS = ("local", "dns", "clean")
# Locally listed (appended to the opl list file), DNS-listed (rbldnsd only), listed nowhere.
NETWORKS = {"local": "198.18.10", "dns": "198.18.20", "clean": "198.18.30"}
ZONES = {
    "opl4.zone": (
        "opl.test:ip4set",
        f":127.0.0.2:Open proxy\n{NETWORKS['dns']}.0/24\n127.0.0.2\n",
    )
}
UNAVAILABLE = b"OPL_DNS_UNAVAILABLE"


def symbols_request(ip: str) -> bytes:
    body = (
        f"Received: from mail.example.org (mail.example.org [{ip}])\r\n"
        "\tby mx.example.net (Postfix) with ESMTP id 4XyZ1\r\n"
        "\tfor <user@example.net>; Tue,  1 Oct 2024 10:00:00 +0000 (UTC)\r\n"
        "Subject: test\r\n\r\nhello\r\n"
    ).encode()
    return b"SYMBOLS SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(body) + body


@dataclass
class Sent:
    """One request and what came back."""

    kind: str
    at: float  # seconds since the load started
    reply: bytes = b""
    error: str = ""
    took_s: float = 0.0

    @property
    def spam(self) -> bool | None:
        head = self.reply.split(b"\r\n\r\n", 1)[0]
        if not head.startswith(b"SPAMD/1.1 0 EX_OK\r\n"):
            return None
        if b"\r\nSpam: True ;" in head:
            return True
        return False if b"\r\nSpam: False ;" in head else None

    @property
    def refused(self) -> bool:
        return b" 69 " in self.reply[:20]


@dataclass
class Run:
    sent: list[Sent] = field(default_factory=list)
    fault_at: float = 0.0
    restored_at: float = 0.0
    skipped: object = 0  # lookups the breaker answered without a query

    def phase(self, item: Sent) -> str:
        if item.at < self.fault_at:
            return "healthy"
        return "outage" if item.at < self.restored_at else "after"


async def send(port: int, item: Sent, request: bytes) -> None:
    begun = time.perf_counter()
    try:
        async with asyncio.timeout(IO_TIMEOUT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            writer.write_eof()
            item.reply = await reader.read()
            writer.close()
    except (OSError, TimeoutError) as err:
        item.error = f"{type(err).__name__}: {err}"
    item.took_s = time.perf_counter() - begun


async def paced_load(
    port: int, fault: Callable[[], Awaitable[None]], restore: Callable[[], Awaitable[None]]
) -> Run:
    """RATE_PER_S requests a second, open loop (arrivals do not wait for answers)."""
    run, tasks = Run(), []
    start = time.monotonic()
    total = int(RATE_PER_S * (HEALTHY_S + OUTAGE_S + AFTER_S))
    fault_done = restore_done = False
    for index in range(total):
        due = start + index / RATE_PER_S
        await asyncio.sleep(max(0.0, due - time.monotonic()))  # pacing, not readiness
        now = time.monotonic() - start
        if not fault_done and now >= HEALTHY_S:
            await fault()
            run.fault_at, fault_done = time.monotonic() - start, True
        if not restore_done and now >= HEALTHY_S + OUTAGE_S:
            await restore()
            run.restored_at, restore_done = time.monotonic() - start, True
        kind = KINDS[index % len(KINDS)]
        item = Sent(kind, time.monotonic() - start)
        ip = f"{NETWORKS[kind]}.{index // len(KINDS) % 250 + 1}"
        run.sent.append(item)
        tasks.append(asyncio.ensure_future(send(port, item, symbols_request(ip))))
    await asyncio.gather(*tasks)
    return run


def correct(run: Run, item: Sent, recovered_at: float) -> bool:
    """Local: spam, always.  Clean: ham, always.  DNS-listed: spam while DNS answers;
    during the outage and until the breaker closes, ham with the list's error symbol."""
    if item.kind == "local":
        return item.spam is True
    if item.kind == "clean":
        return item.spam is False
    if item.at + item.took_s < run.fault_at or item.at >= recovered_at:
        return item.spam is True  # answered before the fault, or sent after recovery
    return item.spam is True or (item.spam is False and UNAVAILABLE in item.reply)


def recovery_point(run: Run) -> float:
    """When DNS-listed mail was flagged again for good: the first DNS-listed request
    sent after DNS returned from which on every one is spam."""
    after = [item for item in run.sent if item.kind == "dns" and item.at >= run.restored_at]
    point = float("inf")
    for item in reversed(after):
        if item.spam is not True:
            break
        point = item.at
    return point


def report(name: str, run: Run, recovered_at: float) -> None:
    print(f"\n{name}: fault at {run.fault_at:.2f}s, DNS back at {run.restored_at:.2f}s")
    print(f"{'phase':<8} {'kind':<6} {'sent':>5} {'correct':>8} {'refused':>8} {'failed':>7}")
    for phase in ("healthy", "outage", "after"):
        for kind in KINDS:
            items = [s for s in run.sent if run.phase(s) == phase and s.kind == kind]
            good = sum(correct(run, s, recovered_at) for s in items)
            refused = sum(s.refused for s in items)
            print(
                f"{phase:<8} {kind:<6} {len(items):>5} {good:>8} {refused:>8} "
                f"{len(items) - good - refused:>7}"
            )
    outage = [s.took_s for s in run.sent if run.phase(s) == "outage"]
    print(f"outage: slowest answer {max(outage):.3f}s (list timeout_s {DNS_TIMEOUT_S}s)")
    print(f"lookups answered by the open breaker without a query: {run.skipped}")
    print(f"DNS-listed mail flagged again {recovered_at - run.restored_at:.2f}s after DNS returned")


def run_fault(
    write_config: ConfigWriter,
    tmp_path: Path,
    fault: Callable[[Rbldnsd], Awaitable[None]],
    restore: Callable[[Rbldnsd], Awaitable[None]],
) -> tuple[Run, dict[str, object]]:
    with running_rbldnsd(ZONES) as dns:
        limits = f"max_connections = {MAX_CONNECTIONS}"
        cfg = write_config(
            server=limits,
            extra=opl_dns_tables(
                dns.port, timeout_s=DNS_TIMEOUT_S, action="delete", dnsbl_keys=SCORED_WHEN_DOWN
            ),
        )
        with (tmp_path / "lists" / "opl.txt").open("a") as opl:
            opl.write(f"{NETWORKS['local']}.0/24 fault test range\n")
        with RunningServer(cfg) as server:
            port = server.address()[1]
            run = asyncio.run(paced_load(port, lambda: fault(dns), lambda: restore(dns)))
            health = server.server.service.scanner.health["opl-dns"].as_dict()
    return run, health


async def sigstop(dns: Rbldnsd) -> None:
    dns.signal(signal.SIGSTOP)


async def sigcont(dns: Rbldnsd) -> None:
    dns.signal(signal.SIGCONT)


async def sigkill(dns: Rbldnsd) -> None:
    dns.signal(signal.SIGKILL)


async def restart(dns: Rbldnsd) -> None:
    await asyncio.to_thread(dns.start)


@pytest.mark.parametrize(
    ("fault", "restore"), [(sigstop, sigcont), (sigkill, restart)], ids=["sigstop", "sigkill"]
)
def test_dns_list_down_under_load(
    write_config: ConfigWriter,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: Callable[[Rbldnsd], Awaitable[None]],
    restore: Callable[[Rbldnsd], Awaitable[None]],
) -> None:
    caplog.set_level(logging.WARNING, logger="oplguard.lists")
    run, health = run_fault(write_config, tmp_path, fault, restore)
    run.skipped = health["skipped"]
    recovered_at = recovery_point(run)
    report(fault.__name__, run, recovered_at)
    local = [s for s in run.sent if s.kind == "local"]
    # No locally listed message answered as ham, refused or lost because DNS was down.
    assert [s for s in local if s.spam is not True] == []
    assert [s for s in run.sent if s.refused or s.error] == []
    assert [s for s in run.sent if not correct(run, s, recovered_at)] == []
    # The outage was seen and answered by the breaker, with the real reason ...
    assert any(UNAVAILABLE in s.reply for s in run.sent if run.phase(s) == "outage")
    assert isinstance(health["skipped"], int) and health["skipped"] > 0
    tripped = [r.getMessage() for r in caplog.records if "is unreachable" in r.getMessage()]
    assert tripped, "the breaker never opened"
    assert f"no answer to {UNANSWERED_TO_TRIP} queries in a row" in tripped[0]
    assert "not listed" not in tripped[0]  # the real reason: nothing answered
    assert not any("monitor-only" in r.getMessage() for r in caplog.records)
    # ... and closed again within seconds of DNS returning: the tail is all flagged.
    end = max(s.at for s in run.sent)
    assert recovered_at <= end - SETTLED_TAIL_S
    assert health["state"] == "healthy"
