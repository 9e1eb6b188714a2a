"""Malformed control-socket requests (issue 13 §5): one JSON line ``{"ok": false, ...}``
each, the service unchanged, and no traceback in its log.  A real ``oplguard serve``."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.conftest import config_writer
from tests.integration.service_process import ServiceProcess, oplguard

pytestmark = pytest.mark.integration
IO_TIMEOUT_S = 20.0

BAD = {
    "not-json": b"hello\n",
    "not-utf8": b"\xff\xfe{}\n",
    "not-an-object": b"[1, 2]\n",
    "nested-30000-deep": b"[" * 30_000 + b"]" * 30_000 + b"\n",
    "nested-object": b'{"cmd": ' + b'{"a": ' * 20_000 + b"1" + b"}" * 20_001 + b"\n",
    "cmd-a-number": b'{"cmd": 5}\n',
    "cmd-a-boolean": b'{"cmd": true}\n',
    "level-a-boolean": b'{"cmd": "set-level", "component": "relays", "level": true}\n',
    "component-a-number": b'{"cmd": "set-level", "component": 5, "level": "debug"}\n',
    "level-a-list": b'{"cmd": "set-level", "level": ["debug"]}\n',
    "for-infinite": b'{"cmd": "set-level", "level": "debug", "for": 1e999}\n',
    "for-5000-digits": b'{"cmd": "trace", "ip": "192.0.2.1", "for": "' + b"9" * 5000 + b's"}\n',
    "nul-in-cmd": b'{"cmd": "levels\\u0000"}\n',
    "long-field": b'{"cmd": "trace", "ip": "' + b"1" * 50_000 + b'"}\n',
    "over-64k": b'{"cmd": "' + b"a" * 70_000 + b'"}\n',
    "empty": b"",
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder = tmp_path_factory.mktemp("control-bad")
    config = config_writer(folder)(top=f'control_socket = "{folder / "control.sock"}"')
    with ServiceProcess(config, folder / "serve.log") as running:
        yield running


def ask_raw(service: ServiceProcess, data: bytes) -> bytes:
    path = str(service.status.get("control_socket") or "")
    if not path:
        path = str(service.config.parent / "control.sock")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(IO_TIMEOUT_S)
        sock.connect(path)
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # answered and closed early: read what was written
        return _read_reply(sock)


def _read_reply(sock: socket.socket) -> bytes:
    """Everything the service wrote, to EOF.  A service that answers a too-long request and
    closes with part of it unread resets the connection (Linux AF_UNIX): the reply is read
    first, and the reset then stands where EOF would."""
    reply = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return reply
        if not chunk:
            return reply
        reply += chunk


@pytest.mark.parametrize("data", BAD.values(), ids=BAD.keys())
def test_malformed_request_gets_a_one_line_error(service: ServiceProcess, data: bytes) -> None:
    reply = ask_raw(service, data)
    assert reply.endswith(b"\n") and reply.count(b"\n") == 1, reply[:300]
    answer = json.loads(reply)
    assert answer["ok"] is False and answer["error"], answer
    assert "\n" not in answer["error"] and len(answer["error"]) < 400, answer


def test_service_unchanged_and_no_traceback(service: ServiceProcess) -> None:
    for data in BAD.values():
        ask_raw(service, data)
    status = oplguard("status", "--json", "--config", str(service.config))
    assert status.returncode == 0, status.stderr
    assert set(json.loads(status.stdout)["levels"].values()) == {"WARNING"}
    log = service.log.read_text(errors="replace")
    assert "Traceback" not in log and "exception" not in log.lower(), log[-2000:]
