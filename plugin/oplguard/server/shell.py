"""The service shell: what the spamd service and the policy daemon share.

A service plugs in a connection handler (``handle``), a busy answer
(``refuse``) and how its runtime is swapped in (``apply``); the shell owns the
rest, written once (after uvicorn's ``Server`` + ``ServerState``): listeners,
``allowed_ips``, connection slots (in total, per peer, and a separate pool for
TLS handshakes), the list-file watcher and DNS-list prober, the locked
build-and-swap reload with its list-error record, signals and graceful
shutdown.  Each connection carries the time it was accepted, so a handler's
request deadline counts from accept, not per read.

A service serves a listener either with a handler on streams (``handle``;
the default) or with an asyncio protocol of its own (``protocol_for``: the
spamd service's plain listeners, server/spamd_protocol.py).  Both are admitted
by the same checks (``allows``; ``state.enter_peer`` and ``state.take_slot``,
server/slots.py) and counted in the same ``tasks``, which shutdown waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oplguard.config import loader as config_loader
from oplguard.config.model import Config, Listener
from oplguard.errors import OplguardError
from oplguard.levelnames import LIFECYCLE_LOGGER
from oplguard.lists.dnsbl import PROBE_TICK_S, probe_due
from oplguard.lists.health import ListHealth
from oplguard.lists.store import LIST_POLL_INTERVAL_S, ListStore
from oplguard.policy.checks import expired_entries
from oplguard.policy.scanner import Scanner
from oplguard.server.access import AccessList
from oplguard.server.channel import Channel, PlainChannel, TlsChannel
from oplguard.server.listeners import (
    ProtocolFactory,
    open_listener,
    release_listener,
    unix_inode,
)
from oplguard.server.slots import Limits as Limits  # re-exported: services import it from here
from oplguard.server.slots import ServerState
from oplguard.server.sockets import peer_of, sockname

# Start, listen, reload, stop: INFO, shown at every log_level (levelnames.py).
lifecycle = logging.getLogger(LIFECYCLE_LOGGER)
# A stream's read buffer limit (asyncio.start_server's default).
STREAM_LIMIT = 1 << 16


@dataclass(frozen=True, slots=True)
class Runtime:
    """What a reload builds off the event loop and swaps in whole."""

    config: Config
    lists: ListStore
    scanner: Scanner


def build_runtime(cfg: Config, health: dict[str, ListHealth] | None = None) -> Runtime:
    """Lists and a scanner for ``cfg`` (blocking: file reads).

    Raises:
        OplguardError: a list file or the trust config is bad.
    """
    lists = ListStore(cfg.lists)
    lists.load()
    return Runtime(cfg, lists, Scanner(cfg, lists, health=health))


@dataclass(slots=True)
class Connection:
    """One accepted connection, as the handler gets it."""

    channel: Channel
    listener: Listener
    host: str
    peer: str
    accepted: float  # event-loop time of the accept


class Shell:
    """A running service: subclasses give ``handle``, ``refuse``, ``apply``, ``limits_of``
    (and may override ``build``)."""

    log = logging.getLogger("oplguard.server")
    # "listening on ..." reads "<label>listening on ..."; the refusal lines, per service.
    label = ""
    unauthorized_line = "unauthorized connection from %s: not in allowed_ips"
    refused_line = "refused connection from %s: %s"

    def __init__(self, cfg: Config, listeners: tuple[Listener, ...]) -> None:
        self.config = cfg
        self.listeners = listeners
        self.limits = self.limits_of(cfg)
        self.access = AccessList(self.limits.allowed_ips)
        self.state = ServerState()
        self.tasks = self.state.tasks
        self.servers: list[asyncio.Server] = []
        self.background: set[asyncio.Task[None]] = set()
        self.reload_lock = asyncio.Lock()
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()
        self.bound: list[tuple[Listener, str]] = []
        self.inodes: dict[Listener, int] = {}  # Unix socket files we bound (removed at stop)
        self.list_errors: dict[str, str] = {}  # list name -> last reload error
        # Sockets bound by the parent of pre-forked workers (server/workers.py).
        self.inherited: dict[Listener, socket.socket] = {}
        self.tls: ssl.SSLContext | None = None
        runtime = build_runtime(cfg)
        self.lists = runtime.lists
        self.scanner = runtime.scanner

    # What a service plugs in.

    def limits_of(self, cfg: Config) -> Limits:
        raise NotImplementedError

    def apply(self, runtime: Runtime) -> None:
        """Swap in a newly built runtime (config, lists, scanner are set already)."""

    async def handle(self, conn: Connection) -> None:
        raise NotImplementedError

    async def refuse(self, conn: Connection, why: str) -> None:
        """No slot: the default closes without a word."""

    def protocol_for(self, listener: Listener) -> ProtocolFactory | None:
        """A protocol serving ``listener`` itself, or None: streams and ``handle``."""
        return None

    def on_connection(self) -> None:
        """Called for every accepted connection (metrics)."""

    def capture(self) -> contextlib.AbstractContextManager[None]:
        """Around the start of a connection's task (the trace buffer of its records)."""
        return contextlib.nullcontext()

    def on_reloaded(self, ok: bool) -> None:
        """Called after every config or list reload, good or bad (metrics)."""

    async def on_started(self) -> None:
        """After the listeners are open, before ``ready``."""

    async def on_stopped(self) -> None:
        """After the last connection has finished."""

    # Start, accept, refuse.

    async def start(self) -> None:
        """Open every listener, start the list watcher and prober; then ``ready`` is set."""
        for listener in self.listeners:
            server = await open_listener(
                listener,
                self.protocol_for(listener) or self._streams(listener),
                self.limits.unix_socket_mode,
                self.inherited.get(listener),
            )
            self.servers.append(server)
            if listener not in self.inherited:
                self.inodes[listener] = unix_inode(listener)
            for sock in server.sockets:
                self.bound.append((listener, sockname(sock.getsockname())))
        for listener, address in self.bound:
            lifecycle.info("%slistening on %s (%s)", self.label, address, listener.kind)
        await self.on_started()
        self._spawn(self.watch_lists())
        self._spawn(self.probe_lists())
        self.ready.set()

    def _streams(self, listener: Listener) -> ProtocolFactory:
        """What ``asyncio.start_server`` builds: a stream pair per connection, then a task."""
        loop = asyncio.get_running_loop()

        def callback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.on_connection()
            with self.capture():
                task = asyncio.ensure_future(self._on_connect(reader, writer, listener))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        def factory() -> asyncio.StreamReaderProtocol:
            reader = asyncio.StreamReader(limit=STREAM_LIMIT, loop=loop)
            return asyncio.StreamReaderProtocol(reader, callback, loop=loop)

        return factory

    # Admission, shared by stream and protocol connections.

    def allows(self, listener: Listener, host: str, peer: str) -> bool:
        """Whether ``allowed_ips`` admits the peer (logged when not); Unix sockets always."""
        if listener.kind == "unix" or self.access.allows(host):
            return True
        self.log.warning(self.unauthorized_line, peer)
        return False

    async def _on_connect(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener: Listener
    ) -> None:
        host, peer = peer_of(writer, listener)
        accepted = asyncio.get_running_loop().time()
        conn = Connection(PlainChannel(reader, writer), listener, host, peer, accepted)
        if not self.allows(listener, host, peer):
            writer.close()
            return
        state = self.state
        key = host if listener.kind != "unix" else ""
        try:
            if (why := state.enter_peer(key, self.limits.max_per_peer)) is not None:
                # Before a TLS handshake there is no way to answer a TLS client: close.
                await self._refuse(conn, why, answer=listener.kind != "tls")
                return
            if listener.kind == "tls" and not await self._handshake(conn, reader, writer):
                return
            await self._serve(conn)
        finally:
            state.leave(key)

    async def _handshake(
        self, conn: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """TLS in its own pool of slots, with its own deadline; False: connection closed."""
        state = self.state
        if state.handshakes >= self.limits.tls_handshakes or self.tls is None:
            self.log.warning(
                "TLS connection from %s closed: %d handshakes in progress",
                conn.peer,
                state.handshakes,
            )
            await conn.channel.close()
            return False
        channel = TlsChannel(reader, writer, self.tls)
        state.handshakes += 1
        try:
            async with asyncio.timeout(self.limits.tls_handshake_timeout_s):
                await channel.handshake()
        except TimeoutError:
            why = f"not finished within {self.limits.tls_handshake_timeout_s:g}s"
        except (ConnectionError, OSError) as err:
            why = str(err) or type(err).__name__
        else:
            conn.channel = channel
            return True
        finally:
            state.handshakes -= 1
        self.log.warning("TLS handshake with %s failed: %s", conn.peer, why)
        await conn.channel.close()
        return False

    async def _serve(self, conn: Connection) -> None:
        state = self.state
        if (why := state.take_slot(self.limits.max_connections)) is not None:
            await self._refuse(conn, why)
            return
        try:
            await self.handle(conn)
        finally:
            state.busy -= 1
            await conn.channel.close()

    async def _refuse(self, conn: Connection, why: str, *, answer: bool = True) -> None:
        self.log.warning(self.refused_line, conn.peer, why)
        if answer:
            with contextlib.suppress(TimeoutError, ConnectionError, OSError):
                async with asyncio.timeout(1.0):
                    await self.refuse(conn, why)
        await conn.channel.close()

    # Lists: watch files, probe DNS lists, reload.

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds`` or until the service stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.stopping.wait()

    async def probe_lists(self) -> None:
        """Probe each DNS list's RFC 5782 test entries; feeds the circuit breaker."""
        while not self.stopping.is_set():
            interval = self.config.server.list_probe_interval_s
            await probe_due(self.scanner.dns_sources, interval)
            await self._pause(PROBE_TICK_S)

    async def watch_lists(self) -> None:
        """Reload list files whose mtime changed; a broken file keeps its last good version."""
        while not self.stopping.is_set():
            await self._pause(LIST_POLL_INTERVAL_S)
            async with self.reload_lock:
                lists = self.lists
                changed = await asyncio.to_thread(lists.changed_files)
                if not changed:
                    continue
                self.log.info("list files changed: %s", ", ".join(str(p) for p in changed))
                errors = await asyncio.to_thread(lists.reload)
            for error in errors:
                self.log.error("list reload: %s (keeping the last good version)", error)
            self.note_list_errors(changed, errors)

    def note_list_errors(self, changed: list[Path], errors: list[str]) -> None:
        """Remember each changed list's outcome for ``oplguard lists status``."""
        for list_cfg in self.config.lists:
            if list_cfg.path not in changed:
                continue
            prefix = str(list_cfg.path)
            failed = [e for e in errors if e.startswith(prefix)]
            if failed:
                self.list_errors[list_cfg.name] = failed[0]
            else:
                self.list_errors.pop(list_cfg.name, None)
            self.on_reloaded(not failed)

    def build(self, cfg: Config) -> Runtime:
        """The runtime for ``cfg`` (blocking: run off the event loop); the DNS lists'
        circuit-breaker state carries over.

        Raises:
            OplguardError: a list file or the trust config is bad.
        """
        return build_runtime(cfg, self.scanner.health)

    def _load_and_build(self) -> Runtime:
        return self.build(config_loader.load(self.config.path))

    async def reload(self) -> bool:
        """Re-read config and lists off the serving path, then swap them in one step.

        Keeps the last good state on any error; requests never wait for it.
        """
        async with self.reload_lock:
            try:
                runtime = await asyncio.to_thread(self._load_and_build)
            except OplguardError as err:
                self.log.error("reload failed, keeping the running configuration: %s", err)
                self.on_reloaded(False)
                return False
            self.config, self.lists, self.scanner = runtime.config, runtime.lists, runtime.scanner
            self.limits = self.limits_of(runtime.config)
            self.access = AccessList(self.limits.allowed_ips)
            self.apply(runtime)
        for warning in expired_entries(runtime.config, datetime.now(UTC)):
            self.log.warning("reload: %s", warning)
        lifecycle.info("reloaded configuration from %s", runtime.config.path)
        self.on_reloaded(True)
        return True

    # Signals and shutdown.

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        loop.add_signal_handler(signal.SIGINT, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self._reload_quietly()))

    async def _reload_quietly(self) -> None:
        await self.reload()

    async def serve(self) -> None:
        """Run until stopped, then shut down gracefully."""
        await self.start()
        await self.stopping.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop accepting, let in-flight requests finish within the grace period."""
        self.stopping.set()
        for server in self.servers:
            server.close()
        for task in set(self.background):
            task.cancel()
        pending = set(self.tasks)
        if pending:
            self.log.warning("waiting for %d connections to finish", len(pending))
            _, late = await asyncio.wait(pending, timeout=self.limits.shutdown_grace_s)
            for connection in late:
                connection.cancel()
        for listener, inode in self.inodes.items():
            await asyncio.to_thread(release_listener, listener, inode)
        await self.on_stopped()
        lifecycle.info("%sstopped", self.label)
