"""CSRF tokens, the admin token and session, bounded request bodies, response headers.

Every secret comparison is constant-time (``hmac.compare_digest``).  Forms use
the double-submit pattern: a random SameSite=Strict cookie that the form must
echo; another site can neither read nor set it.  The JSON API takes only
``application/json``, which a cross-site form cannot send without CORS.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from urllib.parse import parse_qsl, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request

CSRF_COOKIE = "oplguard_csrf"
ADMIN_COOKIE = "oplguard_admin"
CSRF_FIELD = "csrf"
# An admin session lasts a working day; then the token is asked for again.
ADMIN_SESSION_S = 8 * 3600
# A removal form is three short fields; 16 KiB leaves room and stops floods.
MAX_FORM_BYTES = 16 * 1024
# Form fields beyond these are ignored by parse_qsl's max_num_fields guard.
MAX_FORM_FIELDS = 10
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Status pages carry their request id in the URL: never leak it in a Referer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_cookie(request: Request) -> str:
    """The CSRF cookie of this browser, or a new value to set."""
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if 20 <= len(value) <= 64 else new_csrf_token()


def check_csrf(request: Request, form: dict[str, str]) -> None:
    """Refuse a form post whose CSRF field does not match its cookie, or from another origin.

    Raises:
        HTTPException: 403 with the reason.
    """
    origin = request.headers.get("origin")
    if origin and origin != "null" and _netloc(origin) != request.headers.get("host"):
        raise HTTPException(403, "form posted from another site")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    given = form.get(CSRF_FIELD, "")
    if not cookie or not given or not hmac.compare_digest(cookie.encode(), given.encode()):
        raise HTTPException(
            403, "the form's security token is missing or stale; reload the page and try again"
        )


def _netloc(url: str) -> str | None:
    """The host[:port] of ``url``, or None when it is no URL (a bad IPv6 literal...)."""
    try:
        return urlsplit(url).netloc
    except ValueError:
        return None


def token_matches(configured: str, given: str) -> bool:
    """Constant-time comparison of an admin token; an unset token matches nothing."""
    if not configured:
        return False
    return hmac.compare_digest(configured.encode(), given.encode())


def admin_session(token: str, now: float | None = None) -> str:
    """A cookie value proving the admin token was given: ``expiry.hmac(token, expiry)``."""
    expiry = str(int((now or time.time()) + ADMIN_SESSION_S))
    return f"{expiry}.{_sign(token, expiry)}"


def is_admin(request: Request, token: str, now: float | None = None) -> bool:
    """Bearer token in Authorization, or a valid admin session cookie."""
    if not token:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given:
        return token_matches(token, given.strip())
    expiry, _, signature = request.cookies.get(ADMIN_COOKIE, "").partition(".")
    if not (expiry.isascii() and expiry.isdigit()) or int(expiry) < (now or time.time()):
        return False
    return hmac.compare_digest(_sign(token, expiry).encode(), signature.encode())


def _sign(token: str, expiry: str) -> str:
    return hmac.new(token.encode(), f"admin-session:{expiry}".encode(), hashlib.sha256).hexdigest()


async def read_body(
    request: Request, limit: int = MAX_FORM_BYTES, timeout_s: float | None = None
) -> bytes:
    """The request body, refused with 413 past ``limit`` (checked while reading).

    The whole body must arrive within ``timeout_s`` (default: [web]
    body_timeout_s), else 408: a client that trickles it cannot hold the slot.
    """
    declared = request.headers.get("content-length", "")
    # A 5,000-digit length is too big, not an int() to compute (Python refuses those).
    too_long = len(declared) > len(str(limit))
    if declared.isascii() and declared.isdigit() and (too_long or int(declared) > limit):
        raise HTTPException(413, f"request body over {limit} bytes")
    if timeout_s is None:
        timeout_s = request.app.state.web.cfg.web.body_timeout_s
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise HTTPException(413, f"request body over {limit} bytes")
    except TimeoutError:
        raise HTTPException(
            408, f"request body not complete within {timeout_s:g} s", {"Connection": "close"}
        ) from None
    return bytes(body)


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict (first value of each field).

    Raises:
        HTTPException: 413 (too big), 415 (another content type), 400 (not decodable).
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
    body = await read_body(request)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as err:
        raise HTTPException(400, f"the form cannot be read: {err}") from err
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form
