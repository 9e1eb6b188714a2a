"""DnsblSource and its breaker with a fake resolver (the faults a unit test needs:
a server that never answers, one that answers again); rbldnsd itself is in
tests/integration/test_dnsbl.py and test_dns_faults.py."""

from __future__ import annotations

import asyncio
import time

import dns.exception

from oplguard.config.model import DnsblConfig
from oplguard.lists.dnsbl import (
    LATE_WAKEUP_S,
    MIN_LATENCY_SAMPLES,
    AnswerStatus,
    DnsblSource,
    probe,
    probe_due,
    query_all,
)
from oplguard.lists.health import (
    FAST_PROBE_INTERVAL_S,
    UNANSWERED_TO_TRIP,
    HealthState,
)


class FakeResolver:
    """Answers 127.0.0.2 for 2.0.0.127 and the listed IPs, or hangs until its timeout."""

    def __init__(self, listed: tuple[str, ...] = ("99.2.0.192",)) -> None:
        self.listed = listed
        self.down = False
        self.queries = 0

    async def resolve_a(self, name: str, timeout_s: float) -> tuple[tuple[str, ...], float]:
        self.queries += 1
        if self.down:
            await asyncio.sleep(timeout_s)
            raise dns.exception.Timeout(timeout=timeout_s)
        if name.startswith(("2.0.0.127.", *(f"{ip}." for ip in self.listed))):
            return ("127.0.0.2",), 60.0
        return (), 60.0


def source(resolver: FakeResolver, timeout_s: float = 0.05) -> DnsblSource:
    return DnsblSource(DnsblConfig("opl-dns", "opl.test", timeout_s=timeout_s), resolver)


async def test_an_unreachable_list_is_not_queried_and_answers_at_once() -> None:
    resolver = FakeResolver()
    dnsbl = source(resolver)
    resolver.down = True
    for n in range(UNANSWERED_TO_TRIP):
        answer = await dnsbl.query(f"192.0.2.{n}")
        assert (answer.status, answer.answered) == (AnswerStatus.ERROR, False)
    assert dnsbl.health.state == HealthState.UNREACHABLE
    sent = resolver.queries
    answers = [await dnsbl.query(f"198.51.100.{n}") for n in range(50)]
    assert resolver.queries == sent
    assert all(a.status == AnswerStatus.ERROR and "not queried" in a.detail for a in answers)
    assert dnsbl.health.skipped == 50


async def test_queries_waiting_when_the_breaker_opens_are_answered_at_once() -> None:
    resolver = FakeResolver()
    dnsbl = source(resolver, timeout_s=30.0)
    resolver.down = True
    waiting = [asyncio.ensure_future(dnsbl.query(f"192.0.2.{n}")) for n in range(10)]
    await asyncio.sleep(0)
    for _ in range(UNANSWERED_TO_TRIP):  # e.g. cut by other messages' budgets
        dnsbl.note_unanswered("no answer within the per-message deadline of 1s")
    done, pending = await asyncio.wait(waiting, timeout=10.0)
    assert not pending
    assert all("not queried, list unreachable" in task.result().detail for task in done)


async def test_budget_cut_counts_as_unanswered() -> None:
    resolver = FakeResolver()
    dnsbl = source(resolver, timeout_s=30.0)
    resolver.down = True
    answers = await query_all([dnsbl], ["192.0.2.1", "192.0.2.2", "192.0.2.3"], 0.05)
    assert {a.status for a in answers.values()} == {AnswerStatus.ERROR}
    assert dnsbl.health.state == HealthState.UNREACHABLE
    assert "per-message deadline of 0.05s" in dnsbl.health.reason


async def test_probe_bypasses_the_breaker_and_closes_it_on_the_first_answer() -> None:
    resolver = FakeResolver()
    dnsbl = source(resolver)
    resolver.down = True
    await probe(dnsbl)
    await probe(dnsbl)
    assert dnsbl.health.state == HealthState.UNREACHABLE
    assert dnsbl.health.failed_probes == 0  # unanswered is not wrong
    resolver.down = False
    assert await probe(dnsbl) == (True, True)
    assert dnsbl.health.state == HealthState.HEALTHY
    assert (await dnsbl.query("192.0.2.99")).status == AnswerStatus.LISTED
    assert (await dnsbl.query("192.0.2.10")).status == AnswerStatus.CLEAN


async def test_probe_due_probes_suspect_lists_soon_and_healthy_ones_at_the_interval() -> None:
    resolver = FakeResolver()
    dnsbl = source(resolver)
    await probe_due([dnsbl], 60.0)
    assert dnsbl.health.next_probe - time.monotonic() > 30.0
    await probe_due([dnsbl], 60.0)  # not due yet: nothing sent
    assert resolver.queries == 2
    resolver.down = True
    dnsbl.health.next_probe = 0.0
    await probe_due([dnsbl], 60.0)
    assert dnsbl.health.next_probe - time.monotonic() <= FAST_PROBE_INTERVAL_S


async def test_a_stalled_server_opens_the_breaker_well_before_the_timeout() -> None:
    # Issue 20: each request held its connection slot for the whole DNS timeout.
    resolver = FakeResolver()
    dnsbl = source(resolver, timeout_s=30.0)
    for n in range(MIN_LATENCY_SAMPLES):  # its usual latency is known
        assert (await dnsbl.query(f"192.0.2.{n + 100}")).answered
    resolver.down = True
    waiting = [
        asyncio.ensure_future(dnsbl.query(f"192.0.2.{n}")) for n in range(UNANSWERED_TO_TRIP)
    ]
    done, pending = await asyncio.wait(waiting, timeout=10.0)
    assert not pending
    assert dnsbl.health.state == HealthState.UNREACHABLE
    assert "nor to any other query" in dnsbl.health.reason
    assert all(task.result().status == AnswerStatus.ERROR for task in done)


async def test_a_slow_query_while_others_are_answered_is_not_a_stall() -> None:
    resolver = FakeResolver()
    dnsbl = source(resolver, timeout_s=30.0)
    for n in range(MIN_LATENCY_SAMPLES):
        await dnsbl.query(f"192.0.2.{n + 100}")
    resolver.down = True
    slow = asyncio.ensure_future(dnsbl.query("192.0.2.1"))
    await asyncio.sleep(0.01)  # sent, and hanging
    resolver.down = False
    for n in range(UNANSWERED_TO_TRIP + 1):  # answered while the slow one waits
        assert (await dnsbl.query(f"192.0.2.{n + 10}")).answered
    await asyncio.sleep(dnsbl.stall_s * 2)
    assert not slow.done()
    assert (dnsbl.health.state, dnsbl.health.unanswered) == (HealthState.HEALTHY, 0)
    slow.cancel()


async def test_no_stall_is_called_before_the_usual_latency_is_known() -> None:
    resolver = FakeResolver()
    dnsbl = source(resolver, timeout_s=30.0)
    assert dnsbl.stall_s == 30.0
    for n in range(MIN_LATENCY_SAMPLES):
        await dnsbl.query(f"192.0.2.{n}")
    assert dnsbl.stall_s < 1.0


async def test_a_probe_of_an_unreachable_list_waits_for_its_own_answer() -> None:
    resolver = FakeResolver()
    dnsbl = source(resolver, timeout_s=30.0)
    for n in range(MIN_LATENCY_SAMPLES):
        await dnsbl.query(f"192.0.2.{n + 100}")
    resolver.down = True
    for _ in range(UNANSWERED_TO_TRIP):
        dnsbl.note_unanswered("Timeout")
    probing = asyncio.ensure_future(dnsbl.query("127.0.0.2", use_cache=False))
    await asyncio.sleep(dnsbl.stall_s * 3)  # stalls, and counts: the breaker is already open
    assert not probing.done()
    probing.cancel()


async def test_a_starved_event_loop_is_not_taken_for_a_stalled_server() -> None:
    resolver = FakeResolver()
    dnsbl = source(resolver, timeout_s=30.0)
    for n in range(MIN_LATENCY_SAMPLES):
        await dnsbl.query(f"192.0.2.{n + 100}")
    resolver.down = True
    ips = [f"192.0.2.{n}" for n in range(UNANSWERED_TO_TRIP)]
    waiting = [asyncio.ensure_future(dnsbl.query(ip)) for ip in ips]
    await asyncio.sleep(0.01)  # sent
    # Blocking the loop on purpose: the whole process starved of CPU.
    time.sleep(dnsbl.stall_s + LATE_WAKEUP_S + 0.2)  # noqa: ASYNC251
    await asyncio.sleep(0.1)  # the stall timers fire, late
    assert (dnsbl.health.state, dnsbl.health.unanswered) == (HealthState.HEALTHY, 0)
    for task in waiting:
        task.cancel()
