"""A load driver that runs the real ``spamc`` (Debian package spamc) once per message.

This is what an MTA pipe (``spamc -c``, Exim's ``spam =`` is similar) costs:
the latency includes starting spamc, so it is far above the asyncio driver's
and is reported separately.  Closed loop at a concurrency, bounded in count.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Sequence

from bench.load import REQUEST_TIMEOUT_S, Results

SPAMC = "/usr/bin/spamc"


def spamc_program() -> str | None:
    return shutil.which("spamc") or (SPAMC if os.path.exists(SPAMC) else None)


def parse_check(stdout: bytes) -> bool:
    """``spamc -c`` prints ``score/threshold`` (``0/0`` when it could not ask)."""
    score, _, threshold = stdout.strip().partition(b"/")
    if not threshold or stdout.strip() == b"0/0":
        raise ConnectionError(f"spamc could not check: {stdout[:80]!r}")
    return float(score) >= float(threshold)


async def check(program: str, port: int, body: bytes) -> bool:
    proc = await asyncio.create_subprocess_exec(
        program,
        "-d",
        "127.0.0.1",
        "-p",
        str(port),
        "-c",
        "-t",
        str(int(REQUEST_TIMEOUT_S)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    stdout, _ = await proc.communicate(body)
    return parse_check(stdout)


async def closed_loop(
    program: str, port: int, messages: Sequence[bytes], concurrency: int, requests: int
) -> Results:
    """``concurrency`` spamc processes at a time, ``requests`` in total."""
    results = Results()
    counter = iter(range(requests))

    async def worker() -> None:
        for n in counter:
            index = n % len(messages)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S + 5):
                    spam = await check(program, port, messages[index])
            except (OSError, TimeoutError, ConnectionError, ValueError):
                results.failures += 1
                continue
            results.latencies.append(time.perf_counter() - started)
            results.spam += spam
            results.verdicts[index] = spam

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    results.elapsed_s = time.perf_counter() - started
    return results
