"""Bounded cost per message (issue 13 §1, §2), against a real ``oplguard serve`` process.

Peak RSS (the kernel's VmHWM of the process) is what is asserted; time is not
(the machine is shared): that a clean request is answered correctly while a
hostile one is in flight is asserted, how fast is measured by bench/hostile.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import config_writer
from tests.integration.load import CLEAN, LISTED, check_request
from tests.integration.service_process import ServiceProcess

pytestmark = pytest.mark.integration
IO_TIMEOUT_S = 60.0
OK = b"SPAMD/1.1 0 EX_OK\r\n"
# Far below the > 1 GB one ~100 KB X-Originating-IP header took before the fix.
RSS_GROWTH_LIMIT_KB = 60_000


def ips(count: int) -> bytes:
    return b" ".join(b"198.51.%d.%d" % (i >> 8 & 255, i & 255) for i in range(1, count + 1))


TOP, REST = LISTED.split(b"Subject", 1)  # the listed Received field, then the rest
HOSTILE = {
    # ~100 KB of one originating-IP header: quadratic memory before the fix
    "originating-ips": TOP + b"X-Originating-IP: " + ips(8_000) + b"\r\nSubject" + REST,
    # the whole 500 KB allowed by max_message_bytes, as short header lines
    "header-lines": TOP + b"X-A: b\r\n" * 62_000 + b"Subject" + REST,
    # 3,000 originating-IP headers of one IP each
    "originating-headers": TOP + b"X-Originating-IP: 198.51.100.9\r\n" * 3_000 + b"Subject" + REST,
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder = tmp_path_factory.mktemp("bounds")
    config = config_writer(folder)(top=f'control_socket = "{folder / "control.sock"}"')
    with ServiceProcess(config, folder / "serve.log") as running:
        yield running


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def symbols(port: int, body: bytes) -> bytes:
    return exchange(port, check_request(body).replace(b"CHECK", b"SYMBOLS", 1))


def test_hostile_headers_cost_memory_linear_in_the_message(service: ServiceProcess) -> None:
    assert service.proc is not None
    assert symbols(service.port, LISTED).startswith(OK)  # warm up: lists, imports, buffers
    before = peak_rss_kb(service.proc.pid)
    for name, body in HOSTILE.items():
        reply = symbols(service.port, body)
        assert reply.startswith(OK), (name, reply[:200])
        assert b"\r\nSpam: True ; 10.0 / 5.0\r\n" in reply, (name, reply[:200])
        assert b"OPL_TRUNCATED" in reply.split(b"\r\n\r\n", 1)[1], (name, reply)
    growth = peak_rss_kb(service.proc.pid) - before
    assert growth < RSS_GROWTH_LIMIT_KB, f"peak RSS grew by {growth} KB"


def test_cut_is_logged_once_with_the_peer(service: ServiceProcess) -> None:
    def cut_lines() -> list[str]:
        text = service.log.read_text(errors="replace")
        return [line for line in text.splitlines() if "scan cut peer=127.0.0.1:" in line]

    seen = len(cut_lines())
    assert symbols(service.port, HOSTILE["originating-ips"]).startswith(OK)
    new = cut_lines()[seen:]
    assert len(new) == 1, new
    assert "WARNING" in new[0] and "MAX_ORIGINATING_IPS_PER_HEADER" in new[0]


def test_clean_requests_are_served_while_a_hostile_one_is_scanned(service: ServiceProcess) -> None:
    replies: list[bytes] = []
    hostile = threading.Thread(
        target=lambda: replies.append(symbols(service.port, HOSTILE["header-lines"]))
    )
    hostile.start()
    try:
        for _ in range(5):
            assert exchange(service.port, check_request(CLEAN)).startswith(OK + b"Spam: False")
            assert exchange(service.port, check_request(LISTED)).startswith(OK + b"Spam: True")
    finally:
        hostile.join(IO_TIMEOUT_S)
    assert replies and b"OPL_TRUNCATED" in replies[0]
