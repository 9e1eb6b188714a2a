"""The policyd read loop over an in-memory stream: requests, EOF, idle, stop, stalls."""

from __future__ import annotations

import asyncio

import pytest

from oplguard.errors import RemoteProtocolError
from oplguard.policyd import server as server_mod
from oplguard.policyd.protocol import PolicyConnection, PolicyRequest
from oplguard.policyd.server import read_request as read_with_timeout

REQUEST = b"request=smtpd_access_policy\nclient_address=192.0.2.99\n\n"
TIMEOUT_S = 100.0


class Stream:
    """A StreamReader as the source the policy loop reads (a channel's ``read``)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    async def read(self) -> bytes:
        return await self.reader.read(4096)


async def read_request(
    reader: asyncio.StreamReader,
    connection: PolicyConnection,
    stopping: asyncio.Event,
    timeout_s: float = TIMEOUT_S,
) -> PolicyRequest | None:
    return await read_with_timeout(Stream(reader), connection, stopping, timeout_s)


async def test_requests_then_none_at_eof() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(REQUEST + REQUEST)
    reader.feed_eof()
    connection, stopping = PolicyConnection(), asyncio.Event()
    first = await read_request(reader, connection, stopping)
    second = await read_request(reader, connection, stopping)
    assert isinstance(first, PolicyRequest) and isinstance(second, PolicyRequest)
    assert await read_request(reader, connection, stopping) is None


async def test_shutdown_ends_an_idle_wait_at_once() -> None:
    stopping = asyncio.Event()
    waiting = asyncio.ensure_future(
        read_request(asyncio.StreamReader(), PolicyConnection(), stopping)
    )
    await asyncio.sleep(0)
    stopping.set()
    async with asyncio.timeout(1.0):
        assert await waiting is None


async def test_idle_connection_is_closed_after_the_idle_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server_mod, "IDLE_TIMEOUT_S", 0.05)
    async with asyncio.timeout(1.0):
        result = await read_request(asyncio.StreamReader(), PolicyConnection(), asyncio.Event())
    assert result is None


async def test_a_stalled_request_times_out() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(REQUEST[:30])
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.0):
            await read_request(reader, PolicyConnection(), asyncio.Event(), 0.05)


async def test_a_trickled_request_times_out_from_its_first_byte() -> None:
    """A byte every 20 ms never stalls a single read, but the request as a whole
    is over its deadline (per read, this would wait for all 60 bytes: 1.2 s)."""
    reader = asyncio.StreamReader()

    async def trickle() -> None:
        for byte in REQUEST[:60]:
            reader.feed_data(bytes([byte]))
            await asyncio.sleep(0.02)

    feeder = asyncio.ensure_future(trickle())
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await read_request(reader, PolicyConnection(), asyncio.Event(), 0.2)
    waited = loop.time() - started
    feeder.cancel()
    assert not reader.at_eof() and waited < 1.0  # ended by the deadline, not by the data


async def test_hang_up_mid_request_is_a_protocol_error() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(REQUEST[:30])
    reader.feed_eof()
    with pytest.raises(RemoteProtocolError, match="middle of a request"):
        await read_request(reader, PolicyConnection(), asyncio.Event())


async def test_cancelling_an_idle_wait_leaves_no_task_behind() -> None:
    waiting = asyncio.ensure_future(
        read_request(asyncio.StreamReader(), PolicyConnection(), asyncio.Event())
    )
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert all(t.done() for t in others)
