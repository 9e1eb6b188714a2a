"""``oplguard web`` limits (issue 13 §3, §8) on real uvicorn: a trickled request is
answered 408 and its slot freed, one address cannot take every connection, and
rate limits count per /24 (loopback has 127.0.0.0/8 to connect from)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import config_writer
from tests.integration.web_harness import ADMIN_TOKEN, RunningWeb, write_web_config

pytestmark = pytest.mark.integration
IO_TIMEOUT_S = 20.0
PER_CLIENT = 3
WEB = f"""header_timeout_s = 1
body_timeout_s = 1
max_connections_per_client = {PER_CLIENT}
lookups_per_minute = 2
"""
LOOKUP = b"GET /api/v1/ip/192.0.2.99 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWeb]:
    folder = tmp_path_factory.mktemp("web-limits")
    with RunningWeb(write_web_config(config_writer(folder), folder, web=WEB)) as running:
        yield running


def connect(web: RunningWeb, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(
        ("127.0.0.1", web.port), timeout=IO_TIMEOUT_S, source_address=(source, 0)
    )
    return sock


def read_all(sock: socket.socket) -> bytes:
    return b"".join(iter(lambda: sock.recv(65536), b""))


def test_trickled_headers_get_408_and_the_connection_is_closed(web: RunningWeb) -> None:
    with connect(web) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for _ in range(4):  # one header line every 0.4 s: each read is quick, the whole is not
            time.sleep(0.4)
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), reply[:200]


def test_trickled_body_gets_408(web: RunningWeb) -> None:
    head = (
        b"POST /api/v1/removals HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    with connect(web) as sock:
        sock.sendall(head)
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b"request body not complete within 1 s" in reply


def test_one_address_cannot_take_every_connection(web: RunningWeb) -> None:
    held = [connect(web, "127.0.0.5") for _ in range(PER_CLIENT)]
    try:
        for sock in held:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # incomplete: holds its slot
        with connect(web, "127.0.0.5") as extra:
            reply = read_all(extra)
        assert reply.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), reply[:200]
        assert b"retry-after: 5" in reply.lower()
        # another address is served meanwhile
        with connect(web, "127.0.0.6") as other:
            other.sendall(
                b"GET /api/v1/ip/192.0.2.99 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            assert read_all(other).startswith(b"HTTP/1.1 200 ")
        # the held ones are closed by the header deadline, freeing the slots
        assert all(read_all(sock).startswith(b"HTTP/1.1 408 ") for sock in held)
    finally:
        for sock in held:
            sock.close()
    with connect(web, "127.0.0.5") as again:
        again.sendall(LOOKUP)
        assert read_all(again).startswith(b"HTTP/1.1 200 ")


def lookup_status(web: RunningWeb, source: str) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=IO_TIMEOUT_S) as client:
        return client.get(f"{web.url}/api/v1/ip/192.0.2.99").status_code


def test_lookup_rate_limit_counts_per_24(web: RunningWeb) -> None:
    assert lookup_status(web, "127.0.7.1") == 200
    assert lookup_status(web, "127.0.7.2") == 200
    assert lookup_status(web, "127.0.7.3") == 429  # same /24: the network's limit is spent
    assert lookup_status(web, "127.0.8.1") == 200  # another /24


def test_status_url_never_comes_from_the_host_header(web: RunningWeb) -> None:
    body = {"ip": "192.0.2.99", "email": "postmaster@example.net", "explanation": "closed"}
    reply = httpx.post(
        f"{web.url}/api/v1/removals", json=body, headers={"Host": "evil.example"}, timeout=20
    )
    assert reply.status_code in (200, 201), reply.text
    assert reply.json()["status_url"].startswith(f"http://127.0.0.1:{web.port}/removals/")


def test_admin_queue_is_paginated(web: RunningWeb) -> None:
    body = {"email": "postmaster@example.net", "explanation": "closed"}
    for ip in ("203.0.113.66", "203.0.113.130"):
        filed = httpx.post(f"{web.url}/api/v1/removals", json=body | {"ip": ip}, timeout=20)
        assert filed.status_code in (200, 201), filed.text
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    url = f"{web.url}/api/v1/admin/removals"
    first = httpx.get(url, params={"limit": 1}, headers=auth, timeout=20)
    assert len(first.json()) == 1 and first.headers["x-next-offset"] == "1"
    rest = httpx.get(url, params={"limit": 500, "offset": 1}, headers=auth, timeout=20)
    assert first.json()[0]["id"] not in {item["id"] for item in rest.json()}
    assert len(rest.json()) >= 2 and "x-next-offset" not in rest.headers
    bad = httpx.get(url, params={"limit": "9" * 5000}, headers=auth, timeout=20)
    assert bad.status_code == 400
    page = httpx.get(f"{web.url}/admin", params={"page": "0"}, headers=auth, timeout=20)
    assert page.status_code == 400
