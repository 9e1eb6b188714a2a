"""``oplguard serve`` as a real child process (for signals, kill -9, the CLI and its log)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Generous: start-up on a loaded 2-core machine; polling only, never asserted as a time.
READY_DEADLINE_S = 30.0
POLL_S = 0.1


def oplguard(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run the real ``oplguard`` command (this interpreter's entry point)."""
    return subprocess.run(
        [sys.executable, "-m", "oplguard", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class ServiceProcess:
    """A running ``oplguard serve --config F`` whose stderr goes to ``log``."""

    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    status: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> ServiceProcess:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "oplguard", "serve", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + READY_DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oplguard serve exited: {self.log.read_text()}")
            result = oplguard("status", "--json", "--config", str(self.config))
            if result.returncode == 0:
                self.status = json.loads(result.stdout)
                self.port = int(self.status["listening"][0].rsplit(":", 1)[1])
                return self
            time.sleep(POLL_S)
        self.stop()
        raise RuntimeError(f"oplguard serve did not answer: {self.log.read_text()}")

    def signal(self, number: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(number)

    def stop(self) -> int:
        """SIGTERM and wait; the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(READY_DEADLINE_S)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()

    def levels(self) -> dict[str, Any]:
        result = oplguard("log-level", "--json", "--config", str(self.config))
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))


def wait_for(predicate: Any, deadline_s: float = READY_DEADLINE_S) -> Any:
    """Poll ``predicate`` until it returns something true (never a timing assertion)."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {deadline_s}s")
        time.sleep(POLL_S)
