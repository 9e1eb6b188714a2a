"""Operator mistakes at start (issue 17 §3-4), with real ``oplguard`` processes: a taken
port, a second instance on a live control socket or Unix listener, a stale socket."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter
from tests.integration.harness import free_port
from tests.integration.trickle import running

pytestmark = pytest.mark.integration
EX_CONFIG = 78


def oplguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oplguard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == EX_CONFIG, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("command", "table", "workers"),
    [("serve", "server", ""), ("serve", "server", "workers = 2\n"), ("policyd", "policyd", "")],
)
def test_a_taken_port_is_one_line_and_exit_78(
    write_config: ConfigWriter, command: str, table: str, workers: str
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        listen = f'listen = ["127.0.0.1:{port}"]\n{workers}'
        if table == "server":
            config = write_config(server=listen)
        else:
            config = write_config(extra=f"[policyd]\n{listen}")
        line = one_line(oplguard(command, "--config", str(config)))
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "in use" in line and "fix:" in line


@pytest.mark.parametrize("workers", ["", "workers = 2"])
def test_a_second_instance_never_takes_a_live_control_socket(
    write_config: ConfigWriter, tmp_path: Path, workers: str
) -> None:
    # Before, the second serve silently took the socket and deleted it when it stopped:
    # the first could no longer be reached until restarted.
    control = tmp_path / "control.sock"
    first_port, second_port = free_port(), free_port()
    first = write_config(
        top=f'control_socket = "{control}"', server=f'listen = ["127.0.0.1:{first_port}"]'
    )
    second = write_config(
        top=f'control_socket = "{control}"',
        server=f'listen = ["127.0.0.1:{second_port}"]\n{workers}',
        name="second.toml",
    )
    with running("serve", first, first_port, tmp_path / "first.log") as proc:
        line = one_line(oplguard("serve", "--config", str(second)))
        status = oplguard("status", "--json", "--config", str(first))
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["listening"] == [f"127.0.0.1:{first_port}"]
        assert proc.poll() is None
    assert f"control socket {control} is in use" in line and "fix:" in line


def test_a_stale_control_socket_is_taken_over(write_config: ConfigWriter, tmp_path: Path) -> None:
    control = tmp_path / "control.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(control))  # a socket file nobody serves any more (kill -9)
    stale.close()
    port = free_port()
    config = write_config(
        top=f'control_socket = "{control}"', server=f'listen = ["127.0.0.1:{port}"]'
    )
    with running("serve", config, port, tmp_path / "serve.log"):
        status = oplguard("status", "--json", "--config", str(config))
    assert status.returncode == 0, status.stderr


def test_a_second_instance_never_takes_a_live_unix_listener(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = tmp_path / "spamd.sock"
    port = free_port()
    first = write_config(server=f'listen = ["127.0.0.1:{port}", "unix:{path}"]')
    second = write_config(server=f'listen = ["unix:{path}"]', name="second.toml")
    with running("serve", first, port, tmp_path / "first.log"):
        inode = path.stat().st_ino
        line = one_line(oplguard("serve", "--config", str(second)))
        assert path.stat().st_ino == inode  # the first instance's socket, untouched
    assert f"cannot listen on unix:{path}" in line


def test_a_unix_listener_path_that_is_not_a_socket_is_refused(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # Before, any file at the path was deleted to make room for the socket.
    path = tmp_path / "spamd.sock"
    path.write_text("not a socket\n")
    config = write_config(server=f'listen = ["unix:{path}"]')
    line = one_line(oplguard("serve", "--config", str(config)))
    assert f"cannot listen on unix:{path}: the path exists and is not a socket" in line
    assert path.read_text() == "not a socket\n"
