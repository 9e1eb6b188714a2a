"""SIGHUP with a config that would disable the filter (issue 13 §6), on a real process:
one ``reload failed`` line, the reload metric counts it, the running config keeps serving."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import pytest

from tests.conftest import config_writer
from tests.integration.load import LISTED, check_request
from tests.integration.service_process import ServiceProcess, oplguard, wait_for

pytestmark = pytest.mark.integration
IO_TIMEOUT_S = 20.0
BAD = {
    "tiny-max-message-bytes": ("max_message_bytes = 512000", "max_message_bytes = 10"),
    "deeply-nested-toml": ("[scoring]", "x = " + "[" * 5000 + "]" * 5000 + "\n[scoring]"),
    "infinite-required-score": ("required_score = 5.0", "required_score = inf"),
}


def spam_flag(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        sock.sendall(check_request(LISTED))
        sock.shutdown(socket.SHUT_WR)
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    return reply.split(b"\r\n")[1]


def failed_reloads(client_config: Path) -> float:
    """From ``oplguard status`` (run with a good copy: the served file is bad now)."""
    status = oplguard("status", "--json", "--config", str(client_config))
    counters = json.loads(status.stdout)["counters"]
    return float(counters.get("oplguard_reloads", {}).get("failed", 0))


def test_bad_reloads_are_refused_and_counted(tmp_path: Path) -> None:
    config = config_writer(tmp_path)(
        top=f'control_socket = "{tmp_path / "control.sock"}"',
        server="max_message_bytes = 512000",
    )
    good = config.read_text()
    client_config = tmp_path / "client.toml"
    client_config.write_text(good)
    with ServiceProcess(config, tmp_path / "serve.log") as service:
        assert spam_flag(service.port) == b"Spam: True ; 10.0 / 5.0"
        for count, (old, new) in enumerate(BAD.values(), start=1):
            assert old in good
            config.write_text(good.replace(old, new, 1))
            service.signal(signal.SIGHUP)
            wait_for(lambda count=count: failed_reloads(client_config) == count)
            assert spam_flag(service.port) == b"Spam: True ; 10.0 / 5.0"
        log = service.log.read_text()
    failed = [line for line in log.splitlines() if "reload failed" in line]
    assert len(failed) == len(BAD), failed
    assert all(str(config) in line for line in failed)
    assert "Traceback" not in log and "never retrieved" not in log, log[-3000:]
