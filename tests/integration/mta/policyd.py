"""``oplguard policyd`` in a thread (its own event loop), and a raw policy client."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from oplguard import config as config_mod
from oplguard.config import Listener
from oplguard.policyd.server import PolicyServer

START_TIMEOUT_S = 10.0
CLIENT_TIMEOUT_S = 10.0


@dataclass
class RunningPolicyd:
    """A PolicyServer running on its own event loop in a thread."""

    config_path: Path
    listeners: tuple[Listener, ...] = (Listener("tcp", "127.0.0.1", 0),)
    server: PolicyServer | None = None
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    started: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def __enter__(self) -> RunningPolicyd:
        self.thread = threading.Thread(target=self._run, name="oplguard-policyd", daemon=True)
        self.thread.start()
        if not self.started.wait(START_TIMEOUT_S):
            raise RuntimeError("policyd did not start")
        if self.error is not None:
            raise self.error
        return self

    def _run(self) -> None:
        async def main() -> None:
            try:
                self.server = PolicyServer(config_mod.load(self.config_path), self.listeners)
                self.loop = asyncio.get_running_loop()
                await self.server.start()
            except BaseException as err:
                self.error = err
                raise
            finally:
                self.started.set()
            await self.server.stopping.wait()
            await self.server.shutdown()

        try:
            asyncio.run(main())
        except BaseException:
            if self.error is None:
                raise

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.server is not None:
            self.loop.call_soon_threadsafe(self.server.stopping.set)
        if self.thread is not None:
            self.thread.join(START_TIMEOUT_S)
            assert not self.thread.is_alive(), "policyd did not stop"

    def address(self) -> tuple[str, int]:
        assert self.server is not None
        for listener, text in self.server.bound:
            if listener.kind == "tcp":
                host, _, port = text.rpartition(":")
                return host.strip("[]"), int(port)
        raise LookupError("no tcp listener")

    def reload(self) -> bool:
        assert self.loop is not None and self.server is not None
        future = asyncio.run_coroutine_threadsafe(self.server.reload(), self.loop)
        return future.result(START_TIMEOUT_S)


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
