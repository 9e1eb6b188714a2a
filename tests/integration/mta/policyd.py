"""``oplguard policyd`` in a thread (its own event loop), and a raw policy client."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from oplguard.config.model import Config, Listener
from oplguard.policyd.server import PolicyServer
from tests.integration.harness import RunningServer

CLIENT_TIMEOUT_S = 10.0


@dataclass
class RunningPolicyd(RunningServer):
    """A PolicyServer running on its own event loop in a thread."""

    listeners: tuple[Listener, ...] | None = (Listener("tcp", "127.0.0.1", 0),)

    def make(self, cfg: Config) -> PolicyServer:
        return PolicyServer(cfg, self.listeners)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        assert self.thread is None or not self.thread.is_alive(), "policyd did not stop"


def policy_request(client_address: str, **extra: str) -> bytes:
    """A request as Postfix sends it at RCPT TO (attributes, then an empty line)."""
    attributes = {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "protocol_name": "ESMTP",
        "client_address": client_address,
        "client_name": "unknown",
        "helo_name": "client.example.org",
        "sender": "sender@example.org",
        "recipient": "user@test.example",
        "queue_id": "",
        **extra,
    }
    return "".join(f"{k}={v}\n" for k, v in attributes.items()).encode() + b"\n"


def read_reply(sock: socket.socket) -> bytes:
    """One reply (up to its empty line), or what came before the server closed."""
    data = b""
    while not data.endswith(b"\n\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def ask(address: tuple[str, int], *requests: bytes) -> list[bytes]:
    """Send ``requests`` one by one on one connection; the replies in order."""
    replies = []
    with socket.create_connection(address, timeout=CLIENT_TIMEOUT_S) as sock:
        for request in requests:
            sock.sendall(request)
            replies.append(read_reply(sock))
    return replies
