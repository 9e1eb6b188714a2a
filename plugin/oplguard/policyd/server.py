"""The asyncio shell of ``oplguard policyd``: sockets, one loop per Postfix connection.

Thin: bytes go to ``PolicyConnection``, requests to ``PolicyService``.  On
trouble the connection is closed without a reply, as SMTPD_POLICY_README asks:
Postfix retries, then applies ``smtpd_policy_service_default_action``.
TERM/INT stop, HUP reloads config and lists (a bad file keeps the last good state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from oplguard import config as config_mod
from oplguard.config import Config, Listener
from oplguard.errors import OplguardError, RemoteProtocolError
from oplguard.levelnames import LIFECYCLE_LOGGER
from oplguard.lists import ListStore
from oplguard.lists.dnsbl import probe
from oplguard.policy.scanner import Scanner
from oplguard.policyd.protocol import CLOSED, PolicyConnection, PolicyRequest, render_reply
from oplguard.policyd.service import PolicyService
from oplguard.server.sockets import peer_of, remove_stale, sockname
from oplguard.server.transport import AccessList

log = logging.getLogger("oplguard.policyd")
# Start, listen, reload, stop: INFO, shown at every log_level (levelnames.py).
lifecycle = logging.getLogger(LIFECYCLE_LOGGER)

# Longer than Postfix's smtpd_policy_service_max_idle (300 s): Postfix, not
# we, closes an idle connection, so it never finds a dead one.
IDLE_TIMEOUT_S = 330.0
# Postfix's smtpd_policy_service_timeout (100 s): a request that has started
# and is not finished by then is abandoned by Postfix anyway.
REQUEST_TIMEOUT_S = 100.0
READ_CHUNK_BYTES = 4096
SHUTDOWN_GRACE_S = 5.0
# A policy socket lives in a directory Postfix owns (private/): access is
# decided by that directory, and Postfix's smtpd runs as another user.
UNIX_SOCKET_MODE = 0o666
# Same as the spamd server: list files are polled, DNS lists probed.
LIST_POLL_INTERVAL_S = 2.0


async def read_request(
    reader: asyncio.StreamReader, connection: PolicyConnection, stopping: asyncio.Event
) -> PolicyRequest | None:
    """The next request; None when Postfix closed, stayed idle too long, or we stop.

    Raises:
        RemoteProtocolError: bad framing, or a hang-up in the middle of a request.
        TimeoutError: a started request did not finish within REQUEST_TIMEOUT_S.
    """
    while True:
        event = connection.next_event()
        if isinstance(event, PolicyRequest):
            return event
        if event is CLOSED:
            return None
        if connection.in_request:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                data = await reader.read(READ_CHUNK_BYTES)
        elif (idle := await _read_idle(reader, stopping)) is not None:
            data = idle
        else:
            return None
        connection.receive_data(data)


async def _read_idle(reader: asyncio.StreamReader, stopping: asyncio.Event) -> bytes | None:
    """Wait between requests: data, or None after IDLE_TIMEOUT_S or on shutdown."""
    read = asyncio.ensure_future(reader.read(READ_CHUNK_BYTES))
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


async def serve_client(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str, server: PolicyServer
) -> None:
    """Answer requests on one Postfix connection until it closes."""
    connection = PolicyConnection()
    answered = 0
    try:
        while (request := await read_request(reader, connection, server.stopping)) is not None:
            decision = await server.service.answer(request)
            writer.write(render_reply(decision.reply))
            await writer.drain()
            answered += 1
        log.debug("policy peer=%s closed after %d requests", peer, answered)
    except RemoteProtocolError as err:
        log.warning("policy peer=%s: %s; disconnecting without a reply", peer, err)
    except TimeoutError:
        log.warning(
            "policy peer=%s: request not finished within %ds; disconnecting",
            peer,
            int(REQUEST_TIMEOUT_S),
        )
    except (ConnectionError, OSError) as err:
        log.info("policy peer=%s: connection ended early: %s", peer, err)
    except Exception:
        log.exception("policy peer=%s: internal error; disconnecting without a reply", peer)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


class PolicyServer:
    """The running policy service."""

    def __init__(self, cfg: Config, listeners: tuple[Listener, ...] | None = None) -> None:
        self.config = cfg
        self.listeners = listeners or cfg.policyd.listen
        self.lists = ListStore(cfg.lists)
        self.lists.load()
        self.service = PolicyService(Scanner(cfg, self.lists))
        self.access = AccessList(cfg.policyd.allowed_ips)
        self.servers: list[asyncio.Server] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.background: set[asyncio.Task[None]] = set()
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()
        self.bound: list[tuple[Listener, str]] = []

    async def start(self) -> None:
        """Open every listener, start the list watchers; then ``ready`` is set."""
        for listener in self.listeners:
            server = await self._open(listener)
            self.servers.append(server)
            for sock in server.sockets:
                self.bound.append((listener, sockname(sock.getsockname())))
        for listener, address in self.bound:
            lifecycle.info("policy service listening on %s (%s)", address, listener.kind)
        self._spawn(self._watch_lists())
        self._spawn(self._probe_lists())
        self.ready.set()

    async def _open(self, listener: Listener) -> asyncio.Server:
        def callback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.ensure_future(self._on_connect(reader, writer, listener))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        if listener.kind == "unix":
            path = Path(listener.path)
            await asyncio.to_thread(remove_stale, path)
            server = await asyncio.start_unix_server(callback, path=str(path))
            os.chmod(path, UNIX_SOCKET_MODE)
            return server
        return await asyncio.start_server(callback, listener.host, listener.port)

    async def _on_connect(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener: Listener
    ) -> None:
        host, peer = peer_of(writer, listener)
        busy = len(self.tasks) > self.config.policyd.max_connections
        if (listener.kind != "unix" and not self.access.allows(host)) or busy:
            why = "too many connections" if busy else "not in [policyd] allowed_ips"
            log.warning("policy connection from %s refused: %s", peer, why)
            writer.close()
            return
        await serve_client(reader, writer, peer, self)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.stopping.wait()

    async def _watch_lists(self) -> None:
        while not self.stopping.is_set():
            await self._pause(LIST_POLL_INTERVAL_S)
            lists = self.lists
            if not await asyncio.to_thread(lists.changed_files):
                continue
            for error in await asyncio.to_thread(lists.reload):
                log.error("list reload: %s (keeping the last good version)", error)

    async def _probe_lists(self) -> None:
        while not self.stopping.is_set():
            scanner = self.service.scanner
            for source in scanner.dns_sources:
                listed_ok, clean_ok = await probe(source)
                scanner.health[source.config.name].probe(listed_ok, clean_ok)
            await self._pause(self.config.server.list_probe_interval_s)

    def _build(self) -> tuple[Config, ListStore, Scanner]:
        cfg = config_mod.load(self.config.path)
        lists = ListStore(cfg.lists)
        lists.load()
        return cfg, lists, Scanner(cfg, lists, health=self.service.scanner.health)

    async def reload(self) -> bool:
        """Re-read config and lists off the event loop; keep the old ones on error."""
        try:
            cfg, lists, scanner = await asyncio.to_thread(self._build)
        except OplguardError as err:
            log.error("reload failed, keeping the running configuration: %s", err)
            return False
        self.config, self.lists = cfg, lists
        self.access = AccessList(cfg.policyd.allowed_ips)
        self.service.scanner = scanner
        lifecycle.info("reloaded configuration from %s", cfg.path)
        return True

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        loop.add_signal_handler(signal.SIGINT, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self._reload_quietly()))

    async def _reload_quietly(self) -> None:
        await self.reload()

    async def serve(self) -> None:
        """Run until stopped, then shut down."""
        await self.start()
        await self.stopping.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop accepting; close Postfix's idle connections after a short grace."""
        self.stopping.set()
        for server in self.servers:
            server.close()
        for task in set(self.background):
            task.cancel()
        if self.tasks:
            _, late = await asyncio.wait(set(self.tasks), timeout=SHUTDOWN_GRACE_S)
            for task in late:
                task.cancel()
        for listener in self.listeners:
            if listener.kind == "unix":
                await asyncio.to_thread(remove_stale, Path(listener.path))
        lifecycle.info("policy service stopped")
