"""The HTML pages over the real server: lookup, removal form with CSRF, status, admin page."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.integration.web_harness import ADMIN_TOKEN
from tests.unit.web.conftest import MakeClient

from oplguard.web.security import CSRF_COOKIE

FORM = {"ip": "192.0.2.99", "email": "postmaster@example.net", "explanation": "proxy closed"}


def csrf_of(client: httpx.Client, path: str = "/") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    token = match.group(1) if match else client.cookies[CSRF_COOKIE]
    assert client.cookies[CSRF_COOKIE] == token
    return token


def file_removal(client: httpx.Client, **fields: str) -> httpx.Response:
    return client.post("/removals", data=FORM | {"csrf": csrf_of(client)} | fields)


def test_home_page_and_headers(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "IPv4 or IPv6 address" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    cookie = page.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    css = client.get("/static/oplguard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_lookup_listed_ip_shows_reason_advice_and_diagnostics(client: httpx.Client) -> None:
    page = client.get("/lookup", params={"ip": "192.0.2.99"})
    text = page.text
    assert page.status_code == 200 and "192.0.2.99</span> is listed" in text
    assert "Open HTTP proxy on port 8080" in text and "2026-09-14" in text
    assert "Open proxy" in text and "unauthenticated relay" in text  # the FAQ's advice
    assert "the DNS lookup timed out" in text  # dead resolver: shown as such
    assert 'action="/removals"' in text


def test_lookup_range_member_and_ipv6(client: httpx.Client) -> None:
    text = client.get("/lookup", params={"ip": "192.0.2.165"}).text
    assert "as part of 192.0.2.160/28" in text
    text = client.get("/lookup", params={"ip": "2001:db8:c0de:2::17"}).text
    assert "Open SOCKS5 proxy on port 1080 (IPv6)" in text


def test_lookup_unlisted_ip_has_no_removal_form(client: httpx.Client) -> None:
    text = client.get("/lookup", params={"ip": "198.51.100.1"}).text
    assert "is not listed" in text and 'action="/removals"' not in text


def test_hostile_input_is_escaped(client: httpx.Client) -> None:
    page = client.get("/lookup", params={"ip": "<script>alert(1)</script>"})
    assert page.status_code == 400
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text


def test_csrf_and_origin_are_checked(client: httpx.Client) -> None:
    assert client.post("/removals", data=FORM).status_code == 403
    assert client.post("/removals", data=FORM | {"csrf": "x" * 32}).status_code == 403
    token = csrf_of(client)
    foreign = client.post(
        "/removals", data=FORM | {"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "another site" in foreign.text


def test_form_limits(client: httpx.Client) -> None:
    token = csrf_of(client)
    huge = client.post("/removals", data=FORM | {"csrf": token, "explanation": "x" * 40_000})
    assert huge.status_code == 413
    wrong_type = client.post("/removals", json=FORM | {"csrf": token})
    assert wrong_type.status_code == 415


def test_bad_email_keeps_the_form(client: httpx.Client) -> None:
    page = file_removal(client, email="nope", explanation="I <b>fixed</b> it")
    assert page.status_code == 400 and "contact e-mail address" in page.text
    assert "I &lt;b&gt;fixed&lt;/b&gt; it" in page.text


def test_unlisted_ip_gets_an_immediate_answer(client: httpx.Client) -> None:
    page = file_removal(client, ip="198.51.100.1")
    assert page.status_code == 200 and "nothing to remove" in page.text


def test_filing_redirects_to_the_status_page(client: httpx.Client) -> None:
    response = file_removal(client)
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/removals/[a-z2-7]{16}\?filed=submitted", location)
    status = client.get(location)
    assert "has been filed" in status.text and 'class="status-pending">pending' in status.text
    again = file_removal(client, email="noc@example.net")
    assert again.headers["location"].split("?")[0] == location.split("?")[0]
    assert again.headers["location"].endswith("filed=merged")
    assert client.get("/removals/aaaaaaaaaaaaaaaa").status_code == 404


def test_admin_login_review_and_status_change(client: httpx.Client) -> None:
    location = file_removal(client, explanation="<img src=x onerror=alert(1)>").headers["location"]
    request_id = location.split("/")[2].split("?")[0]
    login_page = client.get("/admin")
    assert "Admin token" in login_page.text
    token = csrf_of(client, "/admin")
    wrong = client.post("/admin/login", data={"csrf": token, "token": "guess-guess-guess"})
    assert wrong.status_code == 401 and "wrong admin token" in wrong.text
    forged = client.post(f"/admin/removals/{request_id}", data={"csrf": token, "action": "approve"})
    assert forged.status_code == 401
    logged_in = client.post("/admin/login", data={"csrf": token, "token": ADMIN_TOKEN})
    assert logged_in.status_code == 303
    queue = client.get("/admin").text
    assert request_id in queue and "&lt;img src=x onerror=alert(1)&gt;" in queue
    no_csrf = client.post(f"/admin/removals/{request_id}", data={"action": "approve"})
    assert no_csrf.status_code == 403
    decided = client.post(
        f"/admin/removals/{request_id}",
        data={"csrf": token, "action": "approve", "note": "Thanks <3"},
    )
    assert decided.status_code == 303
    status = client.get(f"/removals/{request_id}").text
    assert 'class="status-approved">approved' in status and "Thanks &lt;3" in status
    assert "is not listed" in client.get("/lookup", params={"ip": "192.0.2.99"}).text
    again = client.post(f"/admin/removals/{request_id}", data={"csrf": token, "action": "deny"})
    assert again.status_code == 409


@pytest.mark.parametrize("action", ["", "Approve", "approve ", "delete", "a" * 10_000])
def test_admin_form_refuses_an_unknown_action(client: httpx.Client, action: str) -> None:
    location = file_removal(client).headers["location"]
    request_id = location.split("/")[2].split("?")[0]
    token = csrf_of(client, "/admin")
    assert client.post("/admin/login", data={"csrf": token, "token": ADMIN_TOKEN}).is_redirect
    refused = client.post(f"/admin/removals/{request_id}", data={"csrf": token, "action": action})
    assert refused.status_code == 400 and "action must be approve or deny" in refused.text
    assert 'class="status-pending">pending' in client.get(location).text


def test_lookup_page_rate_limit(make_client: MakeClient) -> None:
    client = make_client(web="lookups_per_minute = 1")
    assert client.get("/lookup", params={"ip": "198.51.100.1"}).status_code == 200
    limited = client.get("/lookup", params={"ip": "198.51.100.1"})
    assert limited.status_code == 429 and "Retry-After" in limited.headers
