"""``oplguard policyd`` on the service shell (server/shell.py): one loop per Postfix connection.

Thin: bytes go to ``PolicyConnection``, requests to ``PolicyService``.  On
trouble the connection is closed without a reply, as SMTPD_POLICY_README asks:
Postfix retries, then applies ``smtpd_policy_service_default_action``.
TERM/INT stop, HUP reloads config and lists (a bad file keeps the last good state).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Protocol

from oplguard.config.model import Config, Listener
from oplguard.errors import RemoteProtocolError
from oplguard.policyd.protocol import CLOSED, PolicyConnection, PolicyRequest, render_reply
from oplguard.policyd.service import PolicyService
from oplguard.server.channel import Channel
from oplguard.server.shell import Connection, Runtime, Shell
from oplguard.server.slots import Limits

log = logging.getLogger("oplguard.policyd")

# Longer than Postfix's smtpd_policy_service_max_idle (300 s): Postfix, not
# we, closes an idle connection, so it never finds a dead one.
IDLE_TIMEOUT_S = 330.0
SHUTDOWN_GRACE_S = 5.0
# A policy socket lives in a directory Postfix owns (private/): access is
# decided by that directory, and Postfix's smtpd runs as another user.
UNIX_SOCKET_MODE = 0o666


class Source(Protocol):
    """Where requests come from: a connection's channel (server/channel.py)."""

    async def read(self) -> bytes:
        """The next chunk; ``b""`` at end of input."""
        ...


async def read_request(
    source: Source, connection: PolicyConnection, stopping: asyncio.Event, timeout_s: float
) -> PolicyRequest | None:
    """The next request; None when Postfix closed, stayed idle too long, or we stop.

    A request must be complete within ``timeout_s`` of its first byte,
    whatever trickles in (Postfix's smtpd_policy_service_timeout is 100 s).

    Raises:
        RemoteProtocolError: bad framing, or a hang-up in the middle of a request.
        TimeoutError: a started request did not finish in time.
    """
    deadline: float | None = None
    while True:
        event = connection.next_event()
        if isinstance(event, PolicyRequest):
            return event
        if event is CLOSED:
            return None
        if connection.in_request:
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + timeout_s
            async with asyncio.timeout_at(deadline):
                data = await source.read()
        elif (idle := await _read_idle(source, stopping)) is not None:
            data = idle
        else:
            return None
        connection.receive_data(data)


async def _read_idle(source: Source, stopping: asyncio.Event) -> bytes | None:
    """Wait between requests: data, or None after IDLE_TIMEOUT_S or on shutdown."""
    read = asyncio.ensure_future(source.read())
    stop = asyncio.ensure_future(stopping.wait())
    try:
        done, _ = await asyncio.wait(
            {read, stop}, timeout=IDLE_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
    except asyncio.CancelledError:
        read.cancel()
        raise
    finally:
        stop.cancel()
    if read in done:
        return read.result()
    read.cancel()
    return None


async def serve_client(channel: Channel, peer: str, server: PolicyServer) -> None:
    """Answer requests on one Postfix connection until it closes (the caller closes)."""
    connection = PolicyConnection()
    answered = 0
    timeout_s = server.config.policyd.request_timeout_s
    try:
        while (
            request := await read_request(channel, connection, server.stopping, timeout_s)
        ) is not None:
            decision = await server.service.answer(request)
            await channel.write(render_reply(decision.reply))
            answered += 1
        log.debug("policy peer=%s closed after %d requests", peer, answered)
    except RemoteProtocolError as err:
        log.warning("policy peer=%s: %s; disconnecting without a reply", peer, err)
    except TimeoutError:
        log.warning(
            "policy peer=%s: request not complete within %ds of its first byte; disconnecting",
            peer,
            int(timeout_s),
        )
    except (ConnectionError, OSError) as err:
        log.info("policy peer=%s: connection ended early: %s", peer, err)
    except Exception:
        log.exception("policy peer=%s: internal error; disconnecting without a reply", peer)


class PolicyServer(Shell):
    """The running policy service."""

    log = log
    label = "policy service "
    unauthorized_line = "policy connection from %s refused: not in [policyd] allowed_ips"
    refused_line = "policy connection from %s refused: %s"

    def __init__(self, cfg: Config, listeners: tuple[Listener, ...] | None = None) -> None:
        super().__init__(cfg, listeners or cfg.policyd.listen)
        self.service = PolicyService(self.scanner)

    def limits_of(self, cfg: Config) -> Limits:
        return replace(
            Limits.of(cfg.policyd),
            unix_socket_mode=UNIX_SOCKET_MODE,
            shutdown_grace_s=SHUTDOWN_GRACE_S,
        )

    def apply(self, runtime: Runtime) -> None:
        self.service.scanner = runtime.scanner

    async def handle(self, conn: Connection) -> None:
        await serve_client(conn.channel, conn.peer, self)
