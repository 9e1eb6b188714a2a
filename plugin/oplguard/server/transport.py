"""The stream adapter: read bytes -> SpamdConnection -> service -> write (the caller closes).

The spamd service's ``tls:`` listeners use it (server/channel.py's TLS over memory BIOs);
``tcp:`` and ``unix:`` ones use the plain protocol of server/spamd_protocol.py, which shares
the replies below.  One request per connection.  The request must be complete within
``request_timeout_s`` of the accept, whatever trickles in; a broad catch per
connection (here and in the protocol, nowhere else) answers EX_SOFTWARE.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from oplguard.errors import Status
from oplguard.policy.scanner import CURRENT_PEER
from oplguard.server.channel import Channel
from oplguard.server.service import ScoringService
from oplguard.spamd.connection import SpamdConnection
from oplguard.spamd.messages import NEED_DATA, Limits, ProtocolFailure, Request
from oplguard.spamd.render import render_error, render_timeout

log = logging.getLogger("oplguard.protocol")

BUSY_REPLY = b"SPAMD/1.0 69 Service Unavailable: too many connections, try again later\r\n"
SOFTWARE_ERROR = b"SPAMD/1.0 70 Software error: internal error, see the log\r\n"


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Per-connection limits, from the [server] config."""

    limits: Limits
    request_timeout_s: float
    child_timeout_s: float


async def read_request(
    channel: Channel, settings: ConnectionSettings, deadline: float
) -> Request | ProtocolFailure:
    """Feed the channel into a SpamdConnection until it yields an event.

    The whole request must be in by ``deadline`` (event-loop time): a peer
    trickling a byte at a time cannot hold the connection past it.
    """
    connection = SpamdConnection(settings.limits)
    try:
        async with asyncio.timeout_at(deadline):
            while (event := connection.next_event()) is NEED_DATA:
                connection.receive_data(await channel.read())
    except TimeoutError:
        return ProtocolFailure(Status.EX_TIMEOUT, "")
    assert isinstance(event, Request | ProtocolFailure)
    return event


async def answer_request(
    channel: Channel,
    peer: str,
    service: ScoringService,
    settings: ConnectionSettings,
    deadline: float | None = None,
) -> None:
    """Read one request from ``channel`` and write its reply; the caller closes.

    ``deadline`` (event-loop time) ends the reading; by default
    ``request_timeout_s`` from now.
    """
    CURRENT_PEER.set(peer)
    verb = "request"
    if deadline is None:
        deadline = asyncio.get_running_loop().time() + settings.request_timeout_s
    try:
        async with asyncio.timeout(settings.child_timeout_s):
            event = await read_request(channel, settings, deadline)
            if isinstance(event, ProtocolFailure):
                reply = failure_reply(event, peer, settings)
            else:
                verb = event.verb.value
                log.debug(
                    "request peer=%s verb=%s version=%d.%d bytes=%d",
                    peer,
                    verb,
                    event.version[0],
                    event.version[1],
                    len(event.body),
                )
                reply = await service.respond(event)
            await channel.write(reply)
    except TimeoutError:
        seconds = int(settings.child_timeout_s)
        log.warning("timeout peer=%s: %ds while trying to %s", peer, seconds, verb)
        await _try_write(channel, child_timeout_reply(seconds, verb))
    except (ConnectionError, OSError) as err:
        log.info("connection from %s ended early: %s", peer, err)
    except Exception:
        log.exception("internal error while serving %s", peer)
        await _try_write(channel, SOFTWARE_ERROR)


def failure_reply(event: ProtocolFailure, peer: str, settings: ConnectionSettings) -> bytes:
    """The reply to a request that did not arrive whole or well-formed (logged)."""
    if event.status != Status.EX_TIMEOUT:
        log.warning("bad request peer=%s: %s", peer, event.message)
        return render_error(event)
    seconds = int(settings.request_timeout_s)
    log.warning(
        "timeout peer=%s: request not complete within %ds of connecting; closed", peer, seconds
    )
    return render_timeout(seconds)


def child_timeout_reply(seconds: int, verb: str) -> bytes:
    return f"SPAMD/1.0 79 Timeout: ({seconds} second timeout while trying to {verb})\r\n".encode()


async def _try_write(channel: Channel, data: bytes) -> None:
    try:
        async with asyncio.timeout(1.0):
            await channel.write(data)
    except (TimeoutError, ConnectionError, OSError):
        pass
