"""The JSON API over the real server: every endpoint and error code, and the OpenAPI document."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
from openapi_spec_validator import validate
from tests.integration.web_harness import ADMIN_TOKEN
from tests.unit.web.conftest import MakeClient

from oplguard.web.app import ROUTES

BODY = {"ip": "192.0.2.99", "email": "postmaster@example.net", "explanation": "proxy closed"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def error_of(response: httpx.Response) -> str:
    message: str = response.json()["error"]["message"]
    assert response.json()["error"]["status"] == response.status_code
    return message


def test_lookup_listed_ipv4_and_ipv6(client: httpx.Client) -> None:
    data = client.get("/api/v1/ip/192.0.2.99").json()
    assert data["listed"] and data["version"] == 4
    opl = data["lists"][0]
    assert (opl["list"], opl["category_name"], opl["listed_since"]) == (
        "opl",
        "Open proxy",
        "2026-09-14",
    )
    assert "CONNECT to port 25" in opl["reason"] and opl["advice"]
    assert data["reverse_dns"]["status"] == "timeout"  # nobody answers DNS in unit tests
    v6 = client.get("/api/v1/ip/2001:db8:c0de:2::17").json()
    assert v6["version"] == 6 and v6["lists"][0]["listed"]


def test_lookup_unlisted_and_bad_input(client: httpx.Client) -> None:
    data = client.get("/api/v1/ip/198.51.100.1").json()
    assert not data["listed"] and data["advice"] == []
    for bad, words in [
        ("not-an-ip", "not an IPv4 or IPv6"),
        ("192.0.2.0/24", "single address"),
        ("fe80::1%25eth0", "scoped"),
    ]:
        response = client.get(f"/api/v1/ip/{bad}")
        assert response.status_code == 400 and words in error_of(response)


def test_lookup_rate_limit(make_client: MakeClient) -> None:
    client = make_client(web="lookups_per_minute = 2")
    codes = [client.get("/api/v1/ip/198.51.100.1").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    response = client.get("/api/v1/ip/198.51.100.1")
    assert 0 < int(response.headers["retry-after"]) <= 60


def test_removal_create_merge_get(client: httpx.Client) -> None:
    created = client.post("/api/v1/removals", json=BODY)
    assert created.status_code == 201
    request = created.json()
    assert (request["status"], request["lists"], request["merged"]) == ("pending", ["opl"], False)
    assert request["status_url"].endswith(f"/removals/{request['id']}")
    merged = client.post("/api/v1/removals", json=BODY | {"email": "noc@example.net"})
    assert merged.status_code == 200 and merged.json()["id"] == request["id"]
    assert merged.json()["merged"]
    got = client.get(f"/api/v1/removals/{request['id']}")
    assert got.status_code == 200 and got.json()["status"] == "pending"
    assert "email" not in got.text  # requesters' contacts are not public


def test_removal_of_unlisted_ip_is_answered_at_once(client: httpx.Client) -> None:
    response = client.post("/api/v1/removals", json=BODY | {"ip": "198.51.100.1"})
    assert response.status_code == 200 and response.json()["status"] == "not-listed"


def test_removal_errors(client: httpx.Client) -> None:
    cases = [
        (dict(data={"ip": "192.0.2.99"}), 415, "application/json"),
        (dict(content=b"{nope", headers={"content-type": "application/json"}), 400, "not valid"),
        (dict(json=[1, 2]), 400, "JSON object"),
        (dict(json={"ip": "192.0.2.99"}), 422, "email is required"),
        (dict(json=BODY | {"email": "nobody"}), 422, "e-mail"),
        (dict(json=BODY | {"ip": "fe80::1%eth0"}), 422, "scoped"),
        (dict(json=BODY | {"explanation": "x" * 20_000}), 413, "over 16384 bytes"),
    ]
    for kwargs, status, words in cases:
        response = client.post("/api/v1/removals", **kwargs)  # type: ignore[arg-type]
        assert response.status_code == status, (kwargs, response.text)
        assert words in error_of(response)


def test_removal_rate_limit_per_client(make_client: MakeClient) -> None:
    client = make_client(web="removals_per_hour = 1")
    assert client.post("/api/v1/removals", json=BODY).status_code == 201
    response = client.post("/api/v1/removals", json=BODY | {"ip": "192.0.2.137"})
    assert response.status_code == 429 and response.headers["retry-after"] == "3600"


def test_unknown_request_ids(client: httpx.Client) -> None:
    for request_id in ("aaaaaaaaaaaaaaaa", "../../etc/passwd", "x" * 500):
        assert client.get(f"/api/v1/removals/{request_id}").status_code == 404


def test_admin_api_needs_the_token(client: httpx.Client) -> None:
    assert client.get("/api/v1/admin/removals").status_code == 401
    wrong = client.get("/api/v1/admin/removals", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    request_id = client.post("/api/v1/removals", json=BODY).json()["id"]
    denied = client.post(f"/api/v1/admin/removals/{request_id}/approve", json={})
    assert denied.status_code == 401
    assert client.get(f"/api/v1/removals/{request_id}").json()["status"] == "pending"


def test_admin_api_review(client: httpx.Client) -> None:
    request_id = client.post("/api/v1/removals", json=BODY).json()["id"]
    queue = client.get("/api/v1/admin/removals?status=pending", headers=ADMIN).json()
    assert queue[0]["requesters"][0]["email"] == "postmaster@example.net"
    approved = client.post(
        f"/api/v1/admin/removals/{request_id}/approve", json={"note": "thanks"}, headers=ADMIN
    )
    assert approved.status_code == 200 and approved.json()["outcome"][0].startswith("removed")
    status = client.get(f"/api/v1/removals/{request_id}").json()
    assert (status["status"], status["note"]) == ("approved", "thanks")
    assert not client.get("/api/v1/ip/192.0.2.99").json()["listed"]
    again = client.post(f"/api/v1/admin/removals/{request_id}/deny", json={}, headers=ADMIN)
    assert again.status_code == 409 and "already approved" in error_of(again)
    unknown = client.post("/api/v1/admin/removals/aaaaaaaaaaaaaaaa/deny", json={}, headers=ADMIN)
    assert unknown.status_code == 404
    bad = client.post(f"/api/v1/admin/removals/{request_id}/delete", json={}, headers=ADMIN)
    assert bad.status_code == 404
    status_filter = client.get("/api/v1/admin/removals?status=bogus", headers=ADMIN)
    assert status_filter.status_code == 400


def test_admin_off_without_a_token(make_client: MakeClient) -> None:
    client = make_client(admin_token="")
    response = client.get("/api/v1/admin/removals", headers=ADMIN)
    assert response.status_code == 401 and "admin access is off" in error_of(response)
    assert client.get("/admin").status_code == 404


def test_broken_store_answers_503(client: httpx.Client, tmp_path: Path) -> None:
    """Another process drops a table: a real database fault, answered 503, not a crash."""
    with sqlite3.connect(tmp_path / "oplguard.db") as conn:
        conn.execute("DROP TABLE removal_contacts")
    response = client.post("/api/v1/removals", json=BODY)
    assert response.status_code == 503 and "unavailable" in error_of(response)
    assert client.get("/api/v1/ip/192.0.2.99").status_code == 200  # lookups still work


def test_openapi_document_is_valid_and_complete(client: httpx.Client) -> None:
    document = client.get("/api/v1/openapi.json").json()
    validate(document)
    described = set(document["paths"])
    routed = {
        route.path.replace(":path", "").replace(":str", "")
        for route in ROUTES
        if route.path.startswith("/api/v1/") and not route.path.endswith("openapi.json")
    }
    assert routed == described
