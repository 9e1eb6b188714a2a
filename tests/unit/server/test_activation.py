"""server/activation.py: the sockets systemd hands over, matched to ``[server] listen``."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from oplguard.config.model import Listener
from oplguard.errors import ConfigError
from oplguard.server.activation import listen_fds, match


def test_no_activation_without_listen_pid_of_this_process() -> None:
    env = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "x"}
    assert listen_fds(env) == []
    assert env == {}  # never passed on to a child


def test_a_bad_listen_fds_is_a_config_error() -> None:
    env = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "9999"}
    with pytest.raises(ConfigError, match="LISTEN_FDS='9999'"):
        listen_fds(env)


def test_sockets_are_matched_by_address(tmp_path: Path) -> None:
    tcp = socket.create_server(("127.0.0.1", 0))
    anywhere = socket.create_server(("0.0.0.0", 0))
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / "s.sock"))
    try:
        listeners = [
            Listener("unix", path=str(tmp_path / "s.sock")),
            Listener("tcp", "*", anywhere.getsockname()[1]),
            Listener("tls", "127.0.0.1", tcp.getsockname()[1]),
            Listener("tcp", "127.0.0.1", 1),  # not handed over: the server binds it
        ]
        found = match(listeners, [tcp, anywhere, unix])
        assert found == {listeners[0]: unix, listeners[1]: anywhere, listeners[2]: tcp}
    finally:
        for sock in (tcp, anywhere, unix):
            sock.close()


def test_a_socket_no_listener_names_is_refused() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    try:
        port = sock.getsockname()[1]
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port} that no \\[server\\] listen"):
            match([Listener("tcp", "127.0.0.1", port + 1 if port < 65535 else 1)], [sock])
    finally:
        sock.close()
