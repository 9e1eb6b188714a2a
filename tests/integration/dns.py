"""A real rbldnsd on loopback for DNSBL tests (Debian package rbldnsd)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

READY_TIMEOUT_S = 10.0


# A DNS list that cannot answer scores OPL_DNS_UNAVAILABLE; 127.0.0.2 is an open proxy.
SCORED_WHEN_DOWN = """on_error = "score"
[dnsbls.returncodes]
"127.0.0.2" = "open-proxy"
"""


def opl_dns_tables(
    port: int, *, timeout_s: float = 0.3, action: str = "tag", dnsbl_keys: str = ""
) -> str:
    """Config tables for a DNS list ``opl-dns`` (zone opl.test on the rbldnsd at ``port``)
    scored by a group with symbol DNS_OPL; ``dnsbl_keys`` are more keys of the list."""
    return f"""
[[dnsbls]]
name = "opl-dns"
zone = "opl.test"
nameservers = ["127.0.0.1:{port}"]
timeout_s = {timeout_s}
{dnsbl_keys}
[groups.dns_opl]
lists = ["opl-dns"]
action = "{action}"
symbol = "DNS_OPL"
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def rbldnsd(zones: dict[str, tuple[str, str]]) -> Iterator[int]:
    """Run rbldnsd serving ``{filename: (zone:type, text)}``; yields its UDP port."""
    with running_rbldnsd(zones) as server:
        yield server.port


@contextmanager
def running_rbldnsd(zones: dict[str, tuple[str, str]]) -> Iterator[Rbldnsd]:
    """Like ``rbldnsd``, but yields the process handle for fault tests (stop, kill, start)."""
    server = Rbldnsd(zones)
    try:
        server.start()
        yield server
    finally:
        server.terminate()
        shutil.rmtree(server.folder, ignore_errors=True)


class Rbldnsd:
    """One rbldnsd on a fixed loopback UDP port that can be killed and started again.

    rbldnsd refuses to run as root and drops to its own user, so the zone
    files go in a world-readable temporary folder.
    """

    def __init__(self, zones: dict[str, tuple[str, str]]) -> None:
        self.program = shutil.which("rbldnsd") or "/usr/sbin/rbldnsd"
        if not os.path.exists(self.program):
            pytest.skip("rbldnsd is not installed (scripts/bootstrap.sh --test installs it)")
        self.folder = Path(tempfile.mkdtemp(prefix="oplguard-rbldnsd-"))
        self.folder.chmod(0o755)
        self.specs = []
        for filename, (zone_type, text) in zones.items():
            (self.folder / filename).write_text(text, encoding="ascii")
            (self.folder / filename).chmod(0o644)
            self.specs.append(f"{zone_type}:{filename}")
        self.port = free_udp_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start serving (again, on the same port) and wait until it answers."""
        user = ["-u", "rbldns"] if os.geteuid() == 0 else []
        command = [self.program, "-n", *user, "-w", str(self.folder)]
        command += ["-b", f"127.0.0.1/{self.port}", "-t", "60", "-c", "1", *self.specs]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_serving(self.port, self.proc)

    def signal(self, number: int) -> None:
        """SIGSTOP / SIGCONT / SIGKILL the running process."""
        assert self.proc is not None
        self.proc.send_signal(number)
        if number == signal.SIGKILL:
            self.proc.wait(READY_TIMEOUT_S)
            self._close()

    def terminate(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process cannot exit
            self.proc.terminate()
            self.proc.wait(5)
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


def wait_serving(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Poll with a version.bind query until rbldnsd answers."""
    query = bytes.fromhex("abcd01000001000000000000") + b"\x07version\x04bind\x00\x00\x10\x00\x03"
    deadline = time.monotonic() + READY_TIMEOUT_S
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"rbldnsd exited: {proc.stdout.read() if proc.stdout else ''!r}")
            sock.sendto(query, ("127.0.0.1", port))
            try:
                sock.recvfrom(512)
                return
            except TimeoutError:
                continue
    raise RuntimeError("rbldnsd did not answer")
