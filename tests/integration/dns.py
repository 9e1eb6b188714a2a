"""A real rbldnsd on loopback for DNSBL tests (Debian package rbldnsd)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

READY_TIMEOUT_S = 10.0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def rbldnsd(zones: dict[str, tuple[str, str]]) -> Iterator[int]:
    """Run rbldnsd serving ``{filename: (zone:type, text)}``; yields its UDP port.

    rbldnsd refuses to run as root and drops to its own user, so the zone
    files go in a world-readable temporary folder.
    """
    program = shutil.which("rbldnsd") or "/usr/sbin/rbldnsd"
    if not os.path.exists(program):
        pytest.skip("rbldnsd is not installed (scripts/bootstrap.sh --test installs it as root)")
    folder = Path(tempfile.mkdtemp(prefix="oplguard-rbldnsd-"))
    folder.chmod(0o755)
    specs = []
    for filename, (zone_type, text) in zones.items():
        (folder / filename).write_text(text, encoding="ascii")
        (folder / filename).chmod(0o644)
        specs.append(f"{zone_type}:{filename}")
    port = free_udp_port()
    user = ["-u", "rbldns"] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [
            program,
            "-n",
            *user,
            "-w",
            str(folder),
            "-b",
            f"127.0.0.1/{port}",
            "-t",
            "60",
            "-c",
            "1",
            *specs,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_serving(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)


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
