"""A small bounded spamd load generator for fault tests (raw protocol, asyncio).

Every request is checked: a reply must be a complete ``SPAMD/1.1 0 EX_OK``
answer with the expected spam flag.  A refused connection (the server has
stopped listening) is counted apart from a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

IO_TIMEOUT_S = 20.0
CLEAN = (
    b"Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n"
    b"\tby mx.example.net (Postfix) with ESMTP id 4XyZ1\r\n"
    b"\tfor <user@example.net>; Tue,  1 Oct 2024 10:00:00 +0000 (UTC)\r\n"
    b"Subject: test\r\n\r\nhello\r\n"
)
LISTED = CLEAN.replace(b"192.0.2.10", b"192.0.2.99")


def check_request(body: bytes) -> bytes:
    return b"CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(body) + body


@dataclass
class LoadResult:
    ok: int = 0
    refused: int = 0
    failures: list[str] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)


async def one(port: int, listed: bool, result: LoadResult) -> None:
    try:
        async with asyncio.timeout(IO_TIMEOUT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(check_request(LISTED if listed else CLEAN))
            await writer.drain()
            writer.write_eof()
            reply = await reader.read()
            writer.close()
    except ConnectionRefusedError:
        result.refused += 1
        return
    except (OSError, TimeoutError) as err:
        result.failures.append(f"{type(err).__name__}: {err}")
        return
    flag = b"True" if listed else b"False"
    if reply.startswith(b"SPAMD/1.1 0 EX_OK\r\nSpam: " + flag):
        result.ok += 1
    else:
        result.failures.append(reply[:120].decode("latin-1"))
    result.replies.append(reply)


async def run_load(
    port: int,
    count: int,
    concurrency: int = 8,
    listed: Callable[[int], bool] = lambda i: i % 3 == 0,
) -> LoadResult:
    """``count`` CHECK requests, at most ``concurrency`` at a time."""
    result = LoadResult()
    gate = asyncio.Semaphore(concurrency)

    async def guarded(index: int) -> None:
        async with gate:
            await one(port, listed(index), result)

    await asyncio.gather(*(guarded(i) for i in range(count)))
    return result
