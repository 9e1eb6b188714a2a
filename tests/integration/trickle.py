"""Hostile peers for the deadline tests: each sends a start, then one byte at a time.

A ``Trickler`` runs in a thread, bound to its own loopback source address
(127.0.0.N is a different peer to the server), and records whether the
server closed it, what the server said, and when.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Generous for a loaded 2-core machine; polling only, never asserted as a time.
START_DEADLINE_S = 60.0


@dataclass
class Trickler:
    """One connection that never completes its request on its own within ``give_up_s``."""

    port: int
    source: str
    start: bytes
    interval_s: float = 0.5
    give_up_s: float = 40.0
    tls: bool = False  # connect, then never send the ClientHello
    reply: bytes = b""
    closed_by_server: bool = False
    closed_after_s: float = 0.0
    connected: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def begin(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(self.give_up_s + 10)

    def _run(self) -> None:
        started = time.monotonic()
        sock = socket.create_connection(("127.0.0.1", self.port), source_address=(self.source, 0))
        with sock:
            self.connected.set()
            try:
                if not self.tls:
                    sock.sendall(self.start)
                self._trickle(sock, started)
            except OSError:  # reset or broken pipe: the server closed it
                self.closed_by_server = True
        self.closed_after_s = time.monotonic() - started

    def _trickle(self, sock: socket.socket, started: float) -> None:
        while time.monotonic() - started < self.give_up_s:
            readable, _, _ = select.select([sock], [], [], self.interval_s)
            if readable:
                data = sock.recv(4096)
                if not data:
                    self.closed_by_server = True
                    return
                self.reply += data
            elif not self.tls:
                sock.sendall(b"a")


def tricklers(port: int, sources: list[str], start: bytes, **options: object) -> list[Trickler]:
    """Start one trickler per source address; return when all are connected."""
    peers = [Trickler(port, source, start, **options) for source in sources]  # type: ignore[arg-type]
    for peer in peers:
        peer.begin()
    for peer in peers:
        assert peer.connected.wait(START_DEADLINE_S), f"{peer.source} could not connect"
    return peers


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the service logs that it listens on ``port`` (no probe connection takes a slot)."""
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        if f"listening on 127.0.0.1:{port} " in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}: {log.read_text()}")


@contextlib.contextmanager
def running(command: str, config: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``oplguard serve|policyd --config F`` as a real process, output in ``log``."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "oplguard", command, "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_port(port, proc, log)
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def tls_client(port: int, request: bytes) -> bytes:
    """One request over TLS (no certificate check: a self-signed test server)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw) as sock,
    ):
        sock.sendall(request)
        answer = b""
        with contextlib.suppress(ssl.SSLError, OSError):
            while chunk := sock.recv(4096):
                answer += chunk
        return answer
