"""Shared response helpers: pages with CSRF cookie and security headers, JSON errors, client id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from oplguard.ipaddr import enclosing_network
from oplguard.removals.ratelimit import Refusal
from oplguard.web.security import CSRF_COOKIE, SECURITY_HEADERS, csrf_cookie
from oplguard.web.state import WebState


def state_of(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def client_of(request: Request) -> str:
    """The client's address (uvicorn applies X-Forwarded-For only from trusted_proxies)."""
    return request.client.host if request.client is not None else "unknown"


def network_of(request: Request) -> str:
    """The client's network for rate limits: its /24 (IPv4) or /64 (IPv6) by default.

    One host of a network gets no more than the whole network: an abuser
    with a range of addresses cannot multiply the limits by rotating them.
    """
    web = state_of(request).cfg.web
    return enclosing_network(client_of(request), web.rate_limit_prefix_v4, web.rate_limit_prefix_v6)


def when(stamp: float | str | None) -> str:
    """A time for people: epoch seconds or an ISO date/datetime; "-" when unknown."""
    if stamp is None or stamp == "":
        return "-"
    if isinstance(stamp, str):
        return stamp.replace("T", " ").replace("+00:00", " UTC").replace("Z", " UTC")
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Render a template with the CSRF token and base URL; set the CSRF cookie if new."""
    state = state_of(request)
    token = csrf_cookie(request)
    template = state.templates.get_template(name)
    html = template.render(
        csrf=token,
        base=state.cfg.web.public_url.rstrip("/"),
        admin_enabled=bool(state.admin_token),
        when=when,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(data, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The API's one error shape: ``{"error": {"status": 400, "message": "..."}}``."""
    return json_response({"error": {"status": status, "message": message}}, status, headers)


def retry_headers(refusal: Refusal | int) -> dict[str, str]:
    seconds = refusal if isinstance(refusal, int) else refusal.retry_after_s
    return {"Retry-After": str(seconds)}
