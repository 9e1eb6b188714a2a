"""The asyncio adapter: read bytes -> SpamdConnection -> service -> write (the caller closes).

One request per connection.  Every wait has a timeout; a broad catch exists
only here, per connection, and answers EX_SOFTWARE.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass

from oplguard.errors import Status
from oplguard.policy.scanner import CURRENT_PEER
from oplguard.server.channel import Channel
from oplguard.server.service import ScoringService
from oplguard.spamd import (
    NEED_DATA,
    Limits,
    ProtocolFailure,
    Request,
    SpamdConnection,
    render_error,
    render_timeout,
)

log = logging.getLogger("oplguard.protocol")


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Per-connection limits, from the [server] config."""

    limits: Limits
    request_timeout_s: float
    child_timeout_s: float


# Mail hosts talk to the service from a handful of addresses: their answers are
# kept (the list is rebuilt, and so emptied, on reload), up to this many.
ACCESS_CACHE_SIZE = 1024


class AccessList:
    """spamd's ``allowed_ips``: peers outside it get no answer at all."""

    def __init__(self, networks: tuple[str, ...]) -> None:
        self.networks = tuple(_network(text) for text in networks)
        self.known: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        answer = self.known.get(host)
        if answer is None:
            answer = self._allows(host)
            if len(self.known) >= ACCESS_CACHE_SIZE:
                self.known.clear()  # a scan of many sources: start over, stay bounded
            self.known[host] = answer
        return answer

    def _allows(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text.split("-", 1)[0], strict=False)


async def read_request(channel: Channel, settings: ConnectionSettings) -> Request | ProtocolFailure:
    """Feed the channel into a SpamdConnection until it yields an event."""
    connection = SpamdConnection(settings.limits)
    while True:
        event = connection.next_event()
        if event is not NEED_DATA:
            assert isinstance(event, Request | ProtocolFailure)
            return event
        try:
            async with asyncio.timeout(settings.request_timeout_s):
                data = await channel.read()
        except TimeoutError:
            return ProtocolFailure(Status.EX_TIMEOUT, "")
        connection.receive_data(data)


async def answer_request(
    channel: Channel, peer: str, service: ScoringService, settings: ConnectionSettings
) -> None:
    """Read one request from ``channel`` and write its reply; the caller closes."""
    CURRENT_PEER.set(peer)
    verb = "request"
    try:
        async with asyncio.timeout(settings.child_timeout_s):
            event = await read_request(channel, settings)
            if isinstance(event, ProtocolFailure):
                if event.status == Status.EX_TIMEOUT:
                    seconds = int(settings.request_timeout_s)
                    log.warning("timeout peer=%s after %ds waiting for input", peer, seconds)
                    reply = render_timeout(seconds)
                else:
                    log.warning("bad request peer=%s: %s", peer, event.message)
                    reply = render_error(event)
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
        await _try_write(channel, _child_timeout(seconds, verb))
    except (ConnectionError, OSError) as err:
        log.info("connection from %s ended early: %s", peer, err)
    except Exception:
        log.exception("internal error while serving %s", peer)
        await _try_write(channel, b"SPAMD/1.0 70 Software error: internal error, see the log\r\n")


def _child_timeout(seconds: int, verb: str) -> bytes:
    return f"SPAMD/1.0 79 Timeout: ({seconds} second timeout while trying to {verb})\r\n".encode()


async def _try_write(channel: Channel, data: bytes) -> None:
    try:
        async with asyncio.timeout(1.0):
            await channel.write(data)
    except (TimeoutError, ConnectionError, OSError):
        pass
