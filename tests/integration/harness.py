"""Integration harness: the real server in a thread, and real-client helpers."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import pytest

from oplguard.config import loader as config_loader
from oplguard.config.model import Config, Listener
from oplguard.server.lifecycle import Server

START_TIMEOUT_S = 30.0  # generous: a loaded 2-core machine; polling only


@dataclass
class RunningServer:
    """A Server running on its own event loop in a thread (``make`` builds it)."""

    config_path: Path
    listeners: tuple[Listener, ...] | None = None
    server: Any = None
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    started: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def make(self, cfg: Config) -> Any:
        """The server to run: the spamd service (RunningPolicyd overrides it)."""
        return Server(cfg, self.listeners)

    def __enter__(self) -> Self:
        self.thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self.thread.start()
        if not self.started.wait(START_TIMEOUT_S):
            raise RuntimeError("server did not start")
        if self.error is not None:
            raise self.error
        return self

    def _run(self) -> None:
        async def main() -> None:
            try:
                self.server = self.make(config_loader.load(self.config_path))
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

    def address(self, kind: str = "tcp") -> tuple[str, int]:
        assert self.server is not None
        for listener, text in self.server.bound:
            if listener.kind == kind:
                host, _, port = text.rpartition(":")
                return host.strip("[]"), int(port)
        raise LookupError(f"no {kind} listener")

    def reload(self) -> bool:
        assert self.loop is not None and self.server is not None
        server = self.server
        future = asyncio.run_coroutine_threadsafe(_call(server.reload), self.loop)
        return future.result(START_TIMEOUT_S)


async def _call(func: Callable[[], Awaitable[bool]]) -> bool:
    return await func()


def need(program: str) -> str:
    """The path of a real client program, or skip with the package to install."""
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (scripts/bootstrap.sh --test installs it as root)")
    return path


# ``oplguard serve`` as a child process, for signal and kill tests.


def serve_process(config: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        str(Path(sys.executable).with_name("oplguard")),
        "serve",
        "--config",
        str(config),
        "--listen",
        f"127.0.0.1:{port}",
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("oplguard serve did not start listening")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
