"""The spamd connection as a plain asyncio protocol (server/spamd_protocol.py), on loopback
with real sockets: requests in any segmentation, bytes after the request, and a reply larger
than every buffer on the way (write flow control: the slot is held until the reply is taken,
and a peer that never takes it is cut at ``child_timeout_s``)."""

from __future__ import annotations

import socket
import time

import pytest

from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.integration.load import LISTED, check_request

pytestmark = pytest.mark.integration
IO_TIMEOUT_S = 30.0
# Larger than what the kernel buffers on loopback between the two sockets (tcp_wmem's
# default maximum is 4 MB; the client's receive buffer is made small below).
BIG = LISTED + b"y" * 12_000_000


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + IO_TIMEOUT_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def send_process(port: int) -> socket.socket:
    """A PROCESS of BIG from a client with a small receive buffer, reply not read yet;
    returns once the reply has started to arrive (then it is all in the server's hands)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(IO_TIMEOUT_S)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"PROCESS SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(BIG) + BIG)
    assert sock.recv(1, socket.MSG_PEEK) == b"S"
    return sock


def test_the_slot_is_held_until_a_large_reply_is_taken(write_config: ConfigWriter) -> None:
    cfg = write_config(server="max_message_bytes = 20000000\nmax_connections = 1")
    with RunningServer(cfg) as running:
        server = running.server
        sock = send_process(running.address()[1])
        with sock:
            # The reply waits in the transport above its high-water mark: still busy.
            assert server.busy == 1
            reply = read_all(sock)
        wait_for(lambda: server.busy == 0 and not server.tasks, "the slot was never given back")
    head, _, echoed = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"SPAMD/1.1 0 EX_OK\r\n")
    assert b"\r\nSpam: True ; 10.0 / 5.0" in head
    assert echoed.endswith(b"y" * 12_000_000)
    assert b"X-Spam-Flag: YES" in echoed[:4096]


def test_a_peer_that_never_reads_its_reply_is_cut_at_the_child_timeout(
    write_config: ConfigWriter,
) -> None:
    # Before, the stream path waited in drain() until the child timeout, then for ever in
    # wait_closed(): the connection never left the server's count.
    cfg = write_config(server="max_message_bytes = 20000000\nchild_timeout_s = 2")
    with RunningServer(cfg) as running:
        server = running.server
        sock = send_process(running.address()[1])
        with sock:
            wait_for(lambda: not server.tasks, "the connection was never cut")
            assert server.busy == 0
            try:
                got = len(read_all(sock))
            except ConnectionResetError:
                got = -1
    assert got < len(BIG)


def test_a_request_sent_a_byte_at_a_time_is_answered(write_config: ConfigWriter) -> None:
    with (
        RunningServer(write_config()) as running,
        socket.create_connection(running.address(), timeout=IO_TIMEOUT_S) as sock,
    ):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in check_request(LISTED):
            sock.send(bytes([byte]))
        reply = read_all(sock)
    assert reply == b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 10.0 / 5.0\r\n\r\n"


@pytest.mark.parametrize("after", [b"GARBAGE\r\n" * 20_000, b"PING SPAMC/1.5\r\n\r\n"])
def test_bytes_after_the_request_are_read_and_dropped(
    write_config: ConfigWriter, after: bytes
) -> None:
    with RunningServer(write_config()) as running:
        server = running.server
        with socket.create_connection(running.address(), timeout=IO_TIMEOUT_S) as sock:
            sock.sendall(check_request(LISTED) + after)
            sock.shutdown(socket.SHUT_WR)
            reply = read_all(sock)  # the server closes: nothing of ``after`` is answered
        wait_for(lambda: not server.tasks, "the connection was never closed")
    assert reply == b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 10.0 / 5.0\r\n\r\n"
