"""An asyncio spamd load driver: closed loop at a concurrency, or open loop at a rate.

Each request is one connection, as spamd clients do.  Loops are bounded in
count and time; only loopback targets are used by the runner.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

REQUEST_TIMEOUT_S = 30.0
# "Spam: True ; 6.0 / 5.0".  rspamd 3.4's spamc mode answers "Spam: False"
# even above its reject threshold, so the verdict is score >= threshold.
SPAM_HEADER = re.compile(rb"Spam: (\w+) ; (-?[\d.]+) / (-?[\d.]+)")


@dataclass
class Results:
    """Latencies (seconds) of successful requests and the failures."""

    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    spam: int = 0
    elapsed_s: float = 0.0
    verdicts: dict[int, bool] = field(default_factory=dict)  # message index -> spam

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, float]:
        done = len(self.latencies)
        return {
            "requests": done,
            "failures": self.failures,
            "spam": self.spam,
            "msgs_per_s": done / self.elapsed_s if self.elapsed_s else 0.0,
            "p50_ms": self.percentile(0.50) * 1000,
            "p99_ms": self.percentile(0.99) * 1000,
            "p999_ms": self.percentile(0.999) * 1000,
            "mean_ms": statistics.fmean(self.latencies) * 1000 if done else float("nan"),
        }


async def check(host: str, port: int, body: bytes) -> bool:
    """One CHECK over a fresh connection; True if the answer says spam."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            b"CHECK SPAMC/1.5\r\nUser: bench\r\nContent-length: %d\r\n\r\n" % len(body) + body
        )
        await writer.drain()
        writer.write_eof()
        reply = await reader.read()
    finally:
        writer.close()
    if not reply.startswith(b"SPAMD/1.1 0 EX_OK\r\n"):
        raise ConnectionError(reply[:80].decode("latin-1"))
    return is_spam(reply)


def is_spam(reply: bytes) -> bool:
    """The verdict of a CHECK answer: its flag, or its score against its threshold."""
    found = SPAM_HEADER.search(reply)
    if found is None:
        raise ConnectionError(f"no Spam header in {reply[:120]!r}")
    flag, score, threshold = found.groups()
    return flag == b"True" or float(score) >= float(threshold)


async def _one(host: str, port: int, messages: Sequence[bytes], n: int, results: Results) -> None:
    started = time.perf_counter()
    index = n % len(messages)
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            spam = await check(host, port, messages[index])
    except (OSError, TimeoutError, ConnectionError):
        results.failures += 1
        return
    results.latencies.append(time.perf_counter() - started)
    results.spam += spam
    results.verdicts[index] = spam


async def closed_loop(
    host: str, port: int, messages: Sequence[bytes], concurrency: int, requests: int
) -> Results:
    """``concurrency`` workers send ``requests`` messages in total, back to back."""
    results = Results()
    counter = iter(range(requests))

    async def worker() -> None:
        for n in counter:
            await _one(host, port, messages, n, results)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    results.elapsed_s = time.perf_counter() - started
    return results


async def open_loop(
    host: str, port: int, messages: Sequence[bytes], rate: float, requests: int
) -> Results:
    """Send at a fixed rate regardless of answers (latency without coordinated omission)."""
    results = Results()
    tasks = []
    started = time.perf_counter()
    for n in range(requests):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(_one(host, port, messages, n, results)))
    await asyncio.gather(*tasks)
    results.elapsed_s = time.perf_counter() - started
    return results
