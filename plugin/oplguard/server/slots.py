"""Connection slots of a service: its limits and its open connections (server/shell.py).

The same checks admit a stream connection (``Shell._on_connect``) and a protocol one
(server/spamd_protocol.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from oplguard.config.model import ServiceConfig


@dataclass(frozen=True, slots=True)
class Limits:
    """A service's connection limits, read from its config table."""

    allowed_ips: tuple[str, ...]
    max_connections: int
    # Open connections of one peer address (handshaking, waiting, answered); 0 = no cap.
    max_per_peer: int = 0
    # TLS handshakes in progress (they never hold a scoring slot), and their deadline.
    tls_handshakes: int = 0
    tls_handshake_timeout_s: float = 10.0
    unix_socket_mode: int = 0o660
    shutdown_grace_s: float = 10.0

    @classmethod
    def of(cls, service: ServiceConfig) -> Limits:
        """The limits every service's table sets; a service replaces the rest it has."""
        return cls(service.allowed_ips, service.max_connections, service.max_connections_per_peer)


class ServerState:
    """Open connections: all of them (``tasks``: a task per stream connection, a future per
    protocol connection, done when it is closed), per peer address, and busy slots."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Future[None]] = set()
        self.per_peer: dict[str, int] = {}
        self.busy = 0  # connections being answered (not handshaking, not lingering)
        self.handshakes = 0

    def enter(self, host: str) -> int:
        """Count a connection of ``host``; its number of open connections."""
        count = self.per_peer.get(host, 0) + 1
        self.per_peer[host] = count
        return count

    def leave(self, host: str) -> None:
        count = self.per_peer.get(host, 0) - 1
        if count > 0:
            self.per_peer[host] = count
        else:
            self.per_peer.pop(host, None)

    def enter_peer(self, key: str, cap: int) -> str | None:
        """Count a connection of ``key`` (``leave`` it when closed); why it is over the
        per-peer ``cap``, or None.  ``key`` is "" for Unix sockets, ``cap`` 0 for none."""
        count = self.enter(key)
        if key and cap and count > cap:
            return f"{count - 1} connections open from this peer"
        return None

    def take_slot(self, max_connections: int) -> str | None:
        """Take a scoring slot (give it back with ``busy -= 1``); why not, or None.

        Accepted before the listener closed: drained like any in-flight request, not
        refused (with socket activation the next process takes what is still in the backlog).
        """
        if self.busy >= max_connections:
            return f"{self.busy} connections busy"
        self.busy += 1
        return None
