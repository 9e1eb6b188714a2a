"""The policyd read loop over an in-memory stream: requests, EOF, idle, stop, stalls."""

from __future__ import annotations

import asyncio

import pytest

from oplguard.errors import RemoteProtocolError
from oplguard.policyd import server as server_mod
from oplguard.policyd.protocol import PolicyConnection, PolicyRequest
from oplguard.policyd.server import read_request

REQUEST = b"request=smtpd_access_policy\nclient_address=192.0.2.99\n\n"


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


async def test_a_stalled_request_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_mod, "REQUEST_TIMEOUT_S", 0.05)
    reader = asyncio.StreamReader()
    reader.feed_data(REQUEST[:30])
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.0):
            await read_request(reader, PolicyConnection(), asyncio.Event())


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
