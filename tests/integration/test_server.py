"""The server over real sockets: conformance cases that need a socket, limits, reloads."""

from __future__ import annotations

import errno
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer, free_port, serve_process, wait_listening
from tests.samples import message

pytestmark = pytest.mark.integration
IO_TIMEOUT_S = 10.0
CLEAN = message("clean.eml")
LISTED = message("listed-connecting.eml")


def exchange(port: int, data: bytes, half_close: bool = True, host: str = "127.0.0.1") -> bytes:
    """Send ``data``, optionally half-close, read the reply until the server closes."""
    with socket.create_connection((host, port), timeout=IO_TIMEOUT_S) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def wait_for(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds, failing after IO_TIMEOUT_S."""
    deadline = time.monotonic() + IO_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def check_request(body: bytes) -> bytes:
    return b"CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(body) + body


def test_case_3_and_4_check_without_half_close(write_config: ConfigWriter) -> None:
    with RunningServer(write_config()) as server:
        port = server.address()[1]
        clean = exchange(port, check_request(CLEAN), half_close=False)
        listed = exchange(port, check_request(LISTED), half_close=False)
    assert clean == b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"
    assert listed == b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 10.0 / 5.0\r\n\r\n"


def test_case_2_old_ping_is_answered_without_more_input(write_config: ConfigWriter) -> None:
    with RunningServer(write_config()) as server:
        reply = exchange(server.address()[1], b"PING SPAMC/1.2\r\n", half_close=False)
    assert reply == b"SPAMD/1.5 0 PONG\r\n"


def test_case_36_peer_outside_allowed_ips_gets_zero_bytes(write_config: ConfigWriter) -> None:
    with RunningServer(write_config(server='allowed_ips = ["127.0.0.2"]')) as server:
        port = server.address()[1]
        try:
            reply = exchange(port, b"PING SPAMC/1.5\r\n\r\n")
        except OSError as err:
            # Closed with our request unread: the kernel resets the connection, which shows
            # up at send, shutdown or recv depending on timing (CI saw ENOTCONN at shutdown).
            # Still no answer.
            if err.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
                raise
            reply = b""
        assert reply == b""


def test_case_36_allowed_peer_on_another_loopback_address(write_config: ConfigWriter) -> None:
    cfg = write_config(server='listen = ["127.0.0.1:0"]\nallowed_ips = ["127.0.0.0/8"]')
    with RunningServer(cfg) as server:
        assert exchange(server.address()[1], b"PING SPAMC/1.5\r\n\r\n") == b"SPAMD/1.5 0 PONG\r\n"


def test_case_37_silent_client_gets_a_timeout_answer(write_config: ConfigWriter) -> None:
    with RunningServer(write_config(server="request_timeout_s = 1")) as server:
        reply = exchange(server.address()[1], b"", half_close=False)
    assert reply == b"SPAMD/1.0 79 Timeout: (1 second socket timeout reading input from client)\r\n"


def test_slow_body_hits_the_child_timeout(write_config: ConfigWriter) -> None:
    cfg = write_config(server="request_timeout_s = 5\nchild_timeout_s = 1")
    with RunningServer(cfg) as server:
        reply = exchange(
            server.address()[1],
            b"CHECK SPAMC/1.5\r\nContent-length: 500\r\n\r\nabc",
            half_close=False,
        )
    assert reply.startswith(b"SPAMD/1.0 79 Timeout: (1 second timeout while trying to ")


def test_connections_above_the_limit_are_refused_quickly(write_config: ConfigWriter) -> None:
    cfg = write_config(server="max_connections = 2\nrequest_timeout_s = 5")
    with RunningServer(cfg) as server:
        port = server.address()[1]
        holders = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            wait_for(lambda: server.server is not None and len(server.server.tasks) == 2)
            busy = exchange(port, b"PING SPAMC/1.5\r\n\r\n")
        finally:
            for sock in holders:
                sock.close()
        wait_for(lambda: server.server is not None and not server.server.tasks)
        after = exchange(port, b"PING SPAMC/1.5\r\n\r\n")
    assert busy.startswith(b"SPAMD/1.0 69 Service Unavailable: too many connections")
    assert after == b"SPAMD/1.5 0 PONG\r\n"


def test_garbage_then_good_request_on_next_connection(write_config: ConfigWriter) -> None:
    with RunningServer(write_config()) as server:
        port = server.address()[1]
        garbage = exchange(port, os.urandom(4096))
        good = exchange(port, check_request(LISTED))
    # Random bytes that start with a newline (about 1 in 256) have an empty first line,
    # answered "Bad header line:" with nothing to quote.
    assert garbage.startswith(b"SPAMD/1.0 76 Bad header line:")
    assert good == b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 10.0 / 5.0\r\n\r\n"


def test_list_file_change_is_picked_up_without_restart(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    with RunningServer(write_config()) as server:
        port = server.address()[1]
        assert b"Spam: False" in exchange(port, check_request(CLEAN))
        opl = tmp_path / "lists" / "opl.txt"
        opl.write_text(opl.read_text() + "192.0.2.10 newly listed open proxy\n")
        os.utime(opl, (time.time() + 5, time.time() + 5))
        deadline = time.monotonic() + IO_TIMEOUT_S
        reply = b""
        while time.monotonic() < deadline:
            reply = exchange(port, check_request(CLEAN))
            if b"Spam: True" in reply:
                break
            time.sleep(0.2)
    assert b"Spam: True ; 10.0 / 5.0" in reply


def test_reload_with_bad_config_keeps_serving(write_config: ConfigWriter) -> None:
    cfg = write_config()
    with RunningServer(cfg) as server:
        port = server.address()[1]
        cfg.write_text(cfg.read_text() + "\n[server]\nbogus = 1\n")
        assert server.reload() is False
        assert exchange(port, check_request(LISTED)).startswith(b"SPAMD/1.1 0 EX_OK")
        cfg.write_text(
            cfg.read_text()
            .replace('action = "delete"', 'action = "tag"', 1)
            .replace("\n[server]\nbogus = 1\n", "")
        )
        assert server.reload() is True


def test_serve_cli_reloads_on_sighup_and_stops_on_sigterm(write_config: ConfigWriter) -> None:
    cfg = write_config()
    port = free_port()
    proc = serve_process(cfg, port)
    try:
        wait_listening(port, proc)
        assert b"Spam: True" in exchange(port, check_request(LISTED))
        cfg.write_text(cfg.read_text().replace('symbol = "OPL"', 'symbol = "OPL"\nenabled = false'))
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + IO_TIMEOUT_S
        while b"Spam: True" in exchange(port, check_request(LISTED)):
            assert time.monotonic() < deadline, "reload did not take effect"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(IO_TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate()
    assert b"reloaded configuration" in stderr


def test_serve_cli_bad_config_exits_78_naming_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[server]\nlisten = ["127.0.0.1:0"]\nmax_connections = "many"\n')
    proc = serve_process(cfg, free_port())
    _, stderr = proc.communicate(timeout=IO_TIMEOUT_S)
    assert proc.returncode == 78
    assert f"{cfg}:3: max_connections must be a number".encode() in stderr


def test_serve_cli_unreadable_list_is_a_startup_error(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    cfg = write_config()
    (tmp_path / "lists" / "opl.txt").unlink()
    proc = serve_process(cfg, free_port())
    _, stderr = proc.communicate(timeout=IO_TIMEOUT_S)
    assert proc.returncode == 78
    assert b"opl.txt" in stderr


def test_ipv6_loopback_listener(write_config: ConfigWriter) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    cfg = write_config(server='listen = ["[::1]:0"]')
    try:
        running = RunningServer(cfg).__enter__()
    except OSError as err:
        pytest.skip(f"cannot bind ::1: {err}")
    try:
        reply = exchange(running.address()[1], b"PING SPAMC/1.5\r\n\r\n", host="::1")
    finally:
        running.__exit__(None, None, None)
    assert reply == b"SPAMD/1.5 0 PONG\r\n"
