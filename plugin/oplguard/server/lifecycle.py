"""Server: listeners, access control, connection limit, reload and shutdown.

TERM/INT stop (in-flight requests finish within the grace period), HUP
reloads the config and lists (a bad file keeps the last good state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from oplguard import config as config_mod
from oplguard.config import Config, Listener
from oplguard.errors import OplguardError
from oplguard.lists import ListStore
from oplguard.lists.dnsbl import probe
from oplguard.observability.runtime import Observability
from oplguard.policy.scanner import Scanner
from oplguard.server.channel import Channel, PlainChannel, TlsChannel
from oplguard.server.service import ScoringService
from oplguard.server.sockets import peer_of, remove_stale, sockname
from oplguard.server.transport import AccessList, ConnectionSettings, answer_request
from oplguard.spamd import Limits

log = logging.getLogger("oplguard.server")

BUSY_REPLY = b"SPAMD/1.0 69 Service Unavailable: too many connections, try again later\r\n"
# A TLS handshake that has not finished by then holds a slot for nothing.
TLS_HANDSHAKE_TIMEOUT_S = 10.0
# How often list files are checked for changes (mtime); an approved removal or
# a new list file is live within this many seconds, without a restart.
LIST_POLL_INTERVAL_S = 2.0


def tls_context(cfg: Config) -> ssl.SSLContext:
    """The server TLS context; client certificates are required if a CA is set."""
    tls = cfg.server.tls
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    assert tls.cert is not None
    context.load_cert_chain(str(tls.cert), str(tls.key) if tls.key else None)
    if tls.client_ca is not None:
        context.load_verify_locations(cafile=str(tls.client_ca))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class Server:
    """The running spamd service."""

    def __init__(self, cfg: Config, listeners: tuple[Listener, ...] | None = None) -> None:
        self.config = cfg
        self.listeners = listeners or cfg.server.listen
        self.lists = ListStore(cfg.lists)
        self.lists.load()
        self.service = ScoringService(Scanner(cfg, self.lists), allow_tell=cfg.server.allow_tell)
        self.access = AccessList(cfg.server.allowed_ips)
        self.settings = self._settings(cfg)
        self.tls = tls_context(cfg) if any(item.kind == "tls" for item in self.listeners) else None
        self.servers: list[asyncio.Server] = []
        self.tasks: set[asyncio.Task[None]] = set()
        # Connections still being answered.  A connection that has written its
        # reply and is only closing (server/channel.py lingers up to 2 s) no
        # longer counts against max_connections: its client may already be
        # back with the next message.
        self.busy = 0
        self.background: set[asyncio.Task[None]] = set()
        self.reload_lock = asyncio.Lock()
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()
        self.bound: list[tuple[Listener, str]] = []
        self.list_errors: dict[str, str] = {}  # list name -> last reload error
        # Sockets bound by the parent of pre-forked workers (server/workers.py).
        self.inherited: dict[Listener, socket.socket] = {}
        # Tracking, metrics, log levels, traces and the control socket (issue 4).
        self.obs = Observability(self)
        self.service.on_scan.append(self.obs.on_scan)

    @staticmethod
    def _settings(cfg: Config) -> ConnectionSettings:
        limits = Limits(max_body_bytes=cfg.server.max_message_bytes)
        return ConnectionSettings(limits, cfg.server.request_timeout_s, cfg.server.child_timeout_s)

    async def start(self) -> None:
        """Open every listener; then ``ready`` is set."""
        for listener in self.listeners:
            server = await self._open(listener)
            self.servers.append(server)
            for sock in server.sockets:
                self.bound.append((listener, sockname(sock.getsockname())))
        for listener, address in self.bound:
            log.warning("listening on %s (%s)", address, listener.kind)
        await self.obs.start()
        self._spawn(self.watch_lists())
        self._spawn(self.probe_lists())
        self.ready.set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds`` or until the server stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.stopping.wait()

    async def probe_lists(self) -> None:
        """Probe each DNS list's RFC 5782 test entries; feeds the circuit breaker."""
        while not self.stopping.is_set():
            scanner = self.service.scanner
            for source in scanner.dns_sources:
                listed_ok, clean_ok = await probe(source)
                scanner.health[source.config.name].probe(listed_ok, clean_ok)
            await self._pause(self.config.server.list_probe_interval_s)

    async def watch_lists(self) -> None:
        """Reload list files whose mtime changed; a broken file keeps its last good version."""
        while not self.stopping.is_set():
            await self._pause(LIST_POLL_INTERVAL_S)
            lists = self.lists
            changed = await asyncio.to_thread(lists.changed_files)
            if not changed:
                continue
            log.info("list files changed: %s", ", ".join(str(p) for p in changed))
            errors = await asyncio.to_thread(lists.reload)
            for error in errors:
                log.error("list reload: %s (keeping the last good version)", error)
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
            self.obs.reloaded(not failed)

    async def _open(self, listener: Listener) -> asyncio.Server:
        def callback(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> asyncio.Task[None]:
            self.obs.connection()
            with self.obs.capture():
                task = asyncio.ensure_future(self._on_connect(reader, writer, listener))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return task

        if (shared := self.inherited.get(listener)) is not None:
            if listener.kind == "unix":
                return await asyncio.start_unix_server(callback, sock=shared)
            return await asyncio.start_server(callback, sock=shared)
        if listener.kind == "unix":
            path = Path(listener.path)
            await asyncio.to_thread(remove_stale, path)
            server = await asyncio.start_unix_server(callback, path=str(path))
            os.chmod(path, self.config.server.unix_socket_mode)
            return server
        host = None if listener.host == "*" else listener.host
        return await asyncio.start_server(callback, host, listener.port)

    async def _on_connect(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener: Listener
    ) -> None:
        host, peer = peer_of(writer, listener)
        if listener.kind != "unix" and not self.access.allows(host):
            log.warning("unauthorized connection from %s: not in allowed_ips", peer)
            writer.close()
            return
        # Accepted before the listener closed: drained like any in-flight request, not refused
        # (with socket activation the next process takes what is still in the backlog).
        if self.busy >= self.config.server.max_connections:
            log.warning("refused connection from %s: %d connections busy", peer, self.busy)
            await PlainChannel(reader, writer).write(BUSY_REPLY)
            await PlainChannel(reader, writer).close()
            return
        channel: Channel = PlainChannel(reader, writer)
        self.busy += 1
        try:
            if listener.kind == "tls":
                assert self.tls is not None
                tls_channel = TlsChannel(reader, writer, self.tls)
                try:
                    async with asyncio.timeout(TLS_HANDSHAKE_TIMEOUT_S):
                        await tls_channel.handshake()
                except (TimeoutError, ConnectionError) as err:
                    log.warning("TLS handshake with %s failed: %s", peer, err or "timeout")
                    return
                channel = tls_channel
            await answer_request(channel, peer, self.service, self.settings)
        finally:
            self.busy -= 1
            await channel.close()

    def _build(self) -> tuple[Config, ListStore, Scanner]:
        """Load config and lists into a new scanner (blocking; off the event loop)."""
        cfg = config_mod.load(self.config.path)
        lists = ListStore(cfg.lists)
        lists.load()
        return cfg, lists, Scanner(cfg, lists, health=self.service.scanner.health)

    async def reload(self) -> bool:
        """Re-read config and lists off the serving path, then swap them in one step.

        Keeps the last good state on any error; requests never wait for it.
        """
        async with self.reload_lock:
            try:
                cfg, lists, scanner = await asyncio.to_thread(self._build)
            except OplguardError as err:
                log.error("reload failed, keeping the running configuration: %s", err)
                self.obs.reloaded(False)
                return False
        self.config, self.lists = cfg, lists
        self.access = AccessList(cfg.server.allowed_ips)
        self.settings = self._settings(cfg)
        self.service.scanner = scanner
        self.service.allow_tell = cfg.server.allow_tell
        log.warning("reloaded configuration from %s", cfg.path)
        self.obs.reloaded(True)
        return True

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        loop.add_signal_handler(signal.SIGINT, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self._reload_quietly()))
        self.obs.install_signals(loop)

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
            log.warning("waiting for %d connections to finish", len(pending))
            _, late = await asyncio.wait(pending, timeout=self.config.server.shutdown_grace_s)
            for task in late:
                task.cancel()
        for listener in self.listeners:
            if listener.kind == "unix" and listener not in self.inherited:  # systemd's stays
                await asyncio.to_thread(remove_stale, Path(listener.path))
        await self.obs.stop(self.config.server.shutdown_grace_s)
        log.warning("stopped")
