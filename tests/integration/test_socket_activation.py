"""systemd socket activation (server/activation.py) with real ``oplguard serve`` processes.

- systemd's own ``systemd-socket-activate`` holds the socket and starts the service on the first
  connection: that connection, made before any oplguard process existed, is answered.
- a restart under load loses nothing: one listening socket is handed to process A as systemd
  does (fd 3, LISTEN_PID, LISTEN_FDS; ``handover`` below, because the socket must outlive A as
  oplguard.socket's does), A is stopped with SIGTERM while requests keep coming, B gets the same
  socket, and every request gets its answer — those sent while no process ran wait in the backlog.
- a handed-over socket that no ``[server] listen`` entry names is a config error (exit 78).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter
from tests.integration.load import LISTED, check_request

pytestmark = pytest.mark.integration
DEADLINE_S = 30.0
# Bounded load: stop after this many requests even if B were slow to come up.
MAX_REQUESTS = 3000
AFTER_B_READY = 20  # requests B must answer after it is ready, before the load stops
# What systemd does before exec: the socket at fd 3, LISTEN_PID = the exec'd process.
HANDOVER = (
    "import os, sys\n"
    "fd = int(sys.argv[1])\n"
    "if fd != 3:\n"
    "    os.dup2(fd, 3)\n"
    "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1')\n"
    "serve = [sys.executable, '-m', 'oplguard', 'serve', '--config', sys.argv[2]]\n"
    "os.execv(sys.executable, serve)\n"
)


def ask(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as sock:
        sock.sendall(check_request(LISTED))
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def answered(reply: bytes) -> bool:
    return reply.startswith(b"SPAMD/1.1 0 EX_OK\r\nSpam: True")


def handover(listener: socket.socket, config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", HANDOVER, str(listener.fileno()), str(config)],
            pass_fds=(listener.fileno(),),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until_serving(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """The process answers: a request waits in the backlog until it accepts it."""
    assert answered(ask(port)), log.read_text()
    assert proc.poll() is None, log.read_text()


def serve_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "oplguard", "serve", "--config", str(config)]


@contextmanager
def listening_socket() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0), backlog=128)
    try:
        yield sock
    finally:
        sock.close()


class Load(threading.Thread):
    """Sends one request after the other; counts answers and failures."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.ok = 0
        self.failures: list[str] = []
        self.stop_after: int | None = None

    def run(self) -> None:
        for _ in range(MAX_REQUESTS):
            if self.stop_after is not None and self.ok >= self.stop_after:
                return
            try:
                reply = ask(self.port)
            except OSError as err:
                self.failures.append(f"{type(err).__name__}: {err}")
                continue
            if answered(reply):
                self.ok += 1
            else:
                self.failures.append(reply[:100].decode("latin-1"))


def test_restart_with_a_handed_over_socket_loses_no_request(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    with listening_socket() as listener:
        port = listener.getsockname()[1]
        config = write_config(server=f'listen = ["127.0.0.1:{port}"]')
        log = tmp_path / "serve.log"
        first = handover(listener, config, log)
        second: subprocess.Popen[bytes] | None = None
        try:
            wait_until_serving(first, port, log)
            load = Load(port)
            load.start()
            while load.ok < 20 and load.is_alive():
                time.sleep(0.05)
            first.send_signal(signal.SIGTERM)
            assert first.wait(DEADLINE_S) == 0, log.read_text()
            during_gap = load.ok
            second = handover(listener, config, log)
            wait_until_serving(second, port, log)
            load.stop_after = load.ok + AFTER_B_READY
            load.join(DEADLINE_S * 2)
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait(DEADLINE_S)
    print(f"socket handover under load: {load.ok} answered, {len(load.failures)} failed")
    assert load.failures == [], load.failures[:5]
    assert load.ok >= during_gap + AFTER_B_READY


@pytest.mark.skipif(
    shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate is missing"
)
def test_systemd_socket_activate_starts_the_service_on_the_first_connection(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    with listening_socket() as probe:
        port = probe.getsockname()[1]  # a free port, released for systemd-socket-activate
    config = write_config(server=f'listen = ["127.0.0.1:{port}"]')
    log = tmp_path / "activate.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", *serve_command(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + DEADLINE_S
        while "Listening on" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        # No oplguard process exists yet: this connection starts it and is answered by it.
        assert answered(ask(port)), log.read_text()
        assert answered(ask(port)), log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(DEADLINE_S)


def test_a_handed_over_socket_no_listener_names_is_a_config_error(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    with listening_socket() as listener:
        port = listener.getsockname()[1]
        config = write_config(server='listen = ["127.0.0.1:1"]')
        log = tmp_path / "serve.log"
        proc = handover(listener, config, log)
        assert proc.wait(DEADLINE_S) == 78, log.read_text()
    text = log.read_text()
    assert f"socket on 127.0.0.1:{port} that no [server] listen entry names" in text, text
    assert "ListenStream=" in text
