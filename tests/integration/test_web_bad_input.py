"""Hostile input to ``oplguard web`` (issue 13 §5): a 4xx and no traceback, never a 500.

Real uvicorn on loopback; raw sockets where a client library would refuse to
send the bytes (binary cookies, a 5,000-digit Content-Length).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ConfigWriter
from tests.integration.web_harness import ADMIN_TOKEN, RunningWeb, write_web_config

pytestmark = pytest.mark.integration
IO_TIMEOUT_S = 15.0
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BODY = {"ip": "192.0.2.99", "email": "postmaster@example.net", "explanation": "closed"}
JSON = b"Content-Type: application/json\r\n"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWeb]:
    from tests.conftest import config_writer

    folder = tmp_path_factory.mktemp("web-bad-input")
    write_config: ConfigWriter = config_writer(folder)
    with RunningWeb(write_web_config(write_config, folder)) as running:
        yield running


def raw(port: int, head: bytes, body: bytes = b"") -> int:
    """Send one HTTP/1.1 request as bytes; the status code of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        sock.sendall(head + b"Connection: close\r\n\r\n" + body)
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    return int(reply.split(b" ", 2)[1])


def pending_id(web: RunningWeb) -> str:
    reply = httpx.post(f"{web.url}/api/v1/removals", json=BODY, timeout=IO_TIMEOUT_S)
    return str(reply.json()["id"])


def request(web: RunningWeb, name: str) -> int:
    post, url = "POST {} HTTP/1.1\r\nHost: x\r\n".format, web.url
    if name == "deeply-nested-json":
        nested = b"[" * 8000 + b"]" * 8000
        head = post("/api/v1/removals").encode() + JSON + b"Content-Length: 16000\r\n"
        return raw(web.port, head, nested)
    if name == "over-long-admin-note":
        decide = f"{url}/api/v1/admin/removals/{pending_id(web)}/deny"
        return httpx.post(decide, json={"note": "n" * 10_000}, headers=AUTH).status_code
    if name == "nul-in-admin-note":
        decide = f"{url}/api/v1/admin/removals/{pending_id(web)}/deny"
        return httpx.post(decide, json={"note": "a\x00b"}, headers=AUTH).status_code
    if name == "nul-in-email":
        bad = BODY | {"email": "post\x00master@example.net"}
        return httpx.post(f"{url}/api/v1/removals", json=bad).status_code
    if name == "escape-in-email":
        bad = BODY | {"email": "post\x1bmaster@example.net"}
        return httpx.post(f"{url}/api/v1/removals", json=bad).status_code
    if name == "non-ascii-digit-admin-cookie":
        head = b"GET /admin HTTP/1.1\r\nHost: x\r\n"
        return raw(web.port, head + b"Cookie: oplguard_admin=\xb2.ab\r\n")
    if name == "binary-admin-cookie":
        head = b"GET /api/v1/admin/removals HTTP/1.1\r\nHost: x\r\n"
        return raw(web.port, head + b"Cookie: oplguard_admin=99999999999.\xff\x01\r\n")
    if name == "bad-origin-url":
        head = post("/removals").encode() + b"Origin: http://[::1\r\n"
        form = b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n"
        return raw(web.port, head + form, b"a=1")
    if name == "5000-digit-content-length":
        head = post("/api/v1/removals").encode() + JSON
        return raw(web.port, head + b"Content-Length: " + b"9" * 5000 + b"\r\n", b"{}")
    assert name == "nul-in-ip"
    return httpx.get(f"{url}/api/v1/ip/192.0.2.1%00").status_code


CASES = {
    "deeply-nested-json": 400,
    "over-long-admin-note": 422,
    "nul-in-admin-note": 422,
    "nul-in-email": 422,
    "escape-in-email": 422,
    "non-ascii-digit-admin-cookie": 200,  # not logged in: the login page
    "binary-admin-cookie": 401,
    "bad-origin-url": 403,
    "5000-digit-content-length": 400,
    "nul-in-ip": 400,
}


@pytest.mark.parametrize(("name", "status"), CASES.items(), ids=CASES.keys())
def test_bad_input_is_a_client_error(
    web: RunningWeb, caplog: pytest.LogCaptureFixture, name: str, status: int
) -> None:
    with caplog.at_level(logging.INFO):
        assert request(web, name) == status
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert httpx.get(f"{web.url}/api/v1/ip/192.0.2.99", timeout=IO_TIMEOUT_S).status_code == 200


def test_nothing_was_lost(web: RunningWeb, tmp_path: Path) -> None:
    """The good requests made around the bad ones are all there."""
    listing = httpx.get(f"{web.url}/api/v1/admin/removals", headers=AUTH, timeout=IO_TIMEOUT_S)
    assert listing.status_code == 200
    assert all(item["ip"] == "192.0.2.99" for item in listing.json())
