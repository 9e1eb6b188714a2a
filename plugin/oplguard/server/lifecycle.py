"""The spamd service on the service shell (server/shell.py): one request per connection.

TERM/INT stop (in-flight requests finish within the grace period), HUP
reloads the config and lists (a bad file keeps the last good state).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import replace

from oplguard.config.model import Config, Listener
from oplguard.control.server import claim_control_path
from oplguard.server.listeners import ProtocolFactory
from oplguard.server.observability import Observability
from oplguard.server.service import ScoringService
from oplguard.server.shell import Connection, Runtime, Shell
from oplguard.server.slots import Limits
from oplguard.server.spamd_protocol import SpamdProtocol
from oplguard.server.transport import BUSY_REPLY, ConnectionSettings, answer_request
from oplguard.spamd.messages import Limits as SpamdLimits


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


class Server(Shell):
    """The running spamd service."""

    def __init__(self, cfg: Config, listeners: tuple[Listener, ...] | None = None) -> None:
        super().__init__(cfg, listeners or cfg.server.listen)
        self.service = ScoringService(self.scanner, allow_tell=cfg.server.allow_tell)
        self.settings = self._settings(cfg)
        if any(item.kind == "tls" for item in self.listeners):
            self.tls = tls_context(cfg)
        # Tracking, metrics, log levels, traces and the control socket (issue 4).
        self.obs = Observability(self)
        self.service.on_scan.append(self.obs.on_scan)

    @property
    def busy(self) -> int:
        """Connections being answered; one that is only closing no longer counts."""
        return self.state.busy

    def limits_of(self, cfg: Config) -> Limits:
        server = cfg.server
        return replace(
            Limits.of(server),
            tls_handshakes=server.max_tls_handshakes,
            tls_handshake_timeout_s=server.tls_handshake_timeout_s,
            unix_socket_mode=server.unix_socket_mode,
            shutdown_grace_s=server.shutdown_grace_s,
        )

    @staticmethod
    def _settings(cfg: Config) -> ConnectionSettings:
        limits = SpamdLimits(max_body_bytes=cfg.server.max_message_bytes)
        return ConnectionSettings(limits, cfg.server.request_timeout_s, cfg.server.child_timeout_s)

    def apply(self, runtime: Runtime) -> None:
        self.settings = self._settings(runtime.config)
        self.service.scanner = runtime.scanner
        self.service.allow_tell = runtime.config.server.allow_tell

    def protocol_for(self, listener: Listener) -> ProtocolFactory | None:
        """Plain TCP and Unix listeners: a plain asyncio protocol per connection
        (server/spamd_protocol.py); TLS ones: streams and ``handle``."""
        if listener.kind == "tls":
            return None
        loop = asyncio.get_running_loop()
        return lambda: SpamdProtocol(self, listener, loop)

    async def handle(self, conn: Connection) -> None:
        deadline = conn.accepted + self.settings.request_timeout_s
        await answer_request(conn.channel, conn.peer, self.service, self.settings, deadline)

    async def refuse(self, conn: Connection, why: str) -> None:
        """spamd's busy answer, over TLS to a TLS client."""
        await conn.channel.write(BUSY_REPLY)

    async def start(self) -> None:
        """A control socket another live instance answers on is refused first
        (nothing of the other instance's is touched)."""
        if self.config.control_socket:
            await claim_control_path(self.config.control_socket)
        await super().start()

    async def on_started(self) -> None:
        await self.obs.start()

    def on_connection(self) -> None:
        self.obs.connection()

    def capture(self) -> contextlib.AbstractContextManager[None]:
        return self.obs.capture()

    def on_reloaded(self, ok: bool) -> None:
        self.obs.reloaded(ok)

    def install_signals(self) -> None:
        super().install_signals()
        self.obs.install_signals(asyncio.get_running_loop())

    async def on_stopped(self) -> None:
        await self.obs.stop(self.config.server.shutdown_grace_s)
