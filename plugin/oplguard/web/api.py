"""The JSON API ``/api/v1``: lookup, removal requests, admin review; described in openapi.py.

Errors are ``{"error": {"status": N, "message": "..."}}`` with the HTTP status.
POST bodies must be ``application/json`` (a cross-site form cannot send that).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from oplguard.config.vocabulary import member, words
from oplguard.errors import InputError, ListError
from oplguard.removals.intake import submit_request
from oplguard.removals.model import (
    REQUEST_ID,
    AlreadyDecided,
    ReviewError,
    parse_public_ip,
)
from oplguard.removals.ratelimit import RateLimited
from oplguard.removals.store import MAX_LIST_ROWS
from oplguard.removals.vocabulary import RequestStatus, ReviewAction, SubmissionStatus
from oplguard.web.lookup import ip_report
from oplguard.web.openapi import openapi_document
from oplguard.web.rdns import diagnose
from oplguard.web.render import (
    client_of,
    json_error,
    json_response,
    network_of,
    retry_headers,
    state_of,
)
from oplguard.web.security import is_admin, read_body

# Admin API listing: requests per page by default (``?limit=`` up to MAX_LIST_ROWS).
API_PAGE = 100
MAX_OFFSET = 1_000_000


async def ip_lookup(request: Request) -> Response:
    """``GET /api/v1/ip/{ip}``: every list's answer and the reverse-DNS diagnosis."""
    state = state_of(request)
    refusal = state.lookups.hit(network_of(request), time.monotonic())
    if refusal is not None:
        return json_error(429, refusal.reason, retry_headers(refusal))
    try:
        ip = parse_public_ip(str(request.path_params["ip"]))
    except InputError as err:
        return json_error(400, str(err))
    report = ip_report(state.lists.snapshot, ip, datetime.now(UTC))
    rdns = await diagnose(ip, state.resolver, state.cfg.web.dns_timeout_s)
    return json_response(report | {"reverse_dns": rdns.as_dict()})


async def removal_create(request: Request) -> Response:
    """``POST /api/v1/removals``: 201 new, 200 merged or not listed, 4xx with the reason."""
    body = await _json_body(request)
    fields = {key: body.get(key) for key in ("ip", "email", "explanation")}
    for key, value in fields.items():
        if not isinstance(value, str):
            return json_error(422, f"{key} is required and must be a string")
    state = state_of(request)
    network = network_of(request)
    over = state.submissions.full(network, time.monotonic())
    if over is not None:
        return json_error(429, over.reason, retry_headers(over))
    try:
        result = await asyncio.to_thread(
            submit_request,
            state.store,
            state.lists.snapshot,
            ip=str(fields["ip"]),
            email=str(fields["email"]),
            explanation=str(fields["explanation"]),
            client=client_of(request),
            limits=state.limits,
            now=time.time(),
        )
    except RateLimited as err:
        return json_error(429, str(err), retry_headers(err.retry_after_s))
    except InputError as err:
        return json_error(422, str(err))
    if result.status == SubmissionStatus.NOT_LISTED or result.request is None:
        message = f"{result.ip} is not on any list: there is nothing to remove"
        return json_response(
            {"ip": result.ip, "status": SubmissionStatus.NOT_LISTED, "message": message}
        )
    state.submissions.hit(network, time.monotonic())  # a filed request counts
    merged = result.status == SubmissionStatus.MERGED
    document = _public(request, result.request.public()) | {"merged": merged}
    return json_response(document, 200 if merged else 201)


async def removal_get(request: Request) -> Response:
    """``GET /api/v1/removals/{id}``: status, decision time and note."""
    request_id = str(request.path_params["request_id"]).lower()
    if not REQUEST_ID.fullmatch(request_id):
        return json_error(404, "no such removal request")
    found = await asyncio.to_thread(state_of(request).store.get, request_id)
    if found is None:
        return json_error(404, "no such removal request")
    return json_response(_public(request, found.public()))


async def openapi(request: Request) -> Response:
    return json_response(openapi_document(state_of(request).cfg.web.public_url))


async def admin_list(request: Request) -> Response:
    """``GET /api/v1/admin/removals?status=pending``: requests with their requesters."""
    state = _admin(request)
    text = request.query_params.get("status") or None
    status = None if text is None else member(RequestStatus, text)
    if text is not None and status is None:
        return json_error(400, f"status must be one of {', '.join(words(RequestStatus))}")
    limit = _count(request, "limit", API_PAGE, MAX_LIST_ROWS)
    offset = _count(request, "offset", 0, MAX_OFFSET)
    if limit is None or offset is None:
        return json_error(400, f"limit is 1 to {MAX_LIST_ROWS}, offset 0 to {MAX_OFFSET}")

    def collect() -> list[dict[str, Any]]:
        return [
            r.public()
            | {
                "decided_by": r.decided_by,
                "outcome": list(r.outcome),
                "requesters": [
                    {"email": c.email, "explanation": c.explanation, "client": c.client, "at": c.at}
                    for c in state.store.contacts(r.id)
                ],
            }
            for r in state.store.requests(status, limit, offset)
        ]

    found = await asyncio.to_thread(collect)
    more = {"X-Next-Offset": str(offset + limit)} if len(found) == limit else {}
    return json_response(found, headers=more)


def _count(request: Request, key: str, default: int, highest: int) -> int | None:
    """A whole-number query parameter within 0..``highest`` (``limit``: 1..), or None."""
    text = request.query_params.get(key)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 7):
        return None
    value = int(text)
    return value if (1 if key == "limit" else 0) <= value <= highest else None


async def admin_decide(request: Request) -> Response:
    """``POST /api/v1/admin/removals/{id}/approve|deny`` with ``{"note": "..."}``."""
    state = _admin(request)
    action = member(ReviewAction, str(request.path_params["action"]))
    if action is None:
        return json_error(404, "the action is approve or deny")
    body = await _json_body(request)
    note = body.get("note", "")
    if not isinstance(note, str):
        return json_error(422, "note must be a string")
    request_id = str(request.path_params["request_id"]).lower()
    actor = f"api:{client_of(request)}"
    try:
        decided = await state.decide(action, request_id, note=note, actor=actor)
    except AlreadyDecided as err:
        return json_error(409, str(err))
    except ReviewError as err:
        status = 404 if "no removal request" in str(err) else 409
        return json_error(status, str(err))
    except InputError as err:  # a bad note
        return json_error(422, str(err))
    except ListError as err:
        return json_error(500, f"the list could not be changed: {err}")
    return json_response(decided.public() | {"outcome": list(decided.outcome)})


def _admin(request: Request) -> Any:
    state = state_of(request)
    if not state.admin_token:
        raise HTTPException(401, "admin access is off: set [web] admin_token_file")
    if not is_admin(request, state.admin_token):
        raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})
    return state


async def _json_body(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(415, "send a JSON body with Content-Type: application/json")
    raw = await read_body(request)
    try:
        body = json.loads(raw or b"{}")
    except (UnicodeDecodeError, ValueError) as err:
        raise HTTPException(400, f"the body is not valid JSON: {err}") from err
    except RecursionError as err:
        raise HTTPException(400, "the body is not valid JSON: nested too deeply") from err
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def _public(request: Request, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its status page URL: from public_url, else the address the
    service listens on, never from the request's Host header (a client chooses that)."""
    path = request.app.url_path_for("removal_status", request_id=document["id"])
    base = state_of(request).cfg.web.public_url.rstrip("/")
    if not base:
        server = request.scope.get("server") or (state_of(request).cfg.web.listen.host, 0)
        host, port = str(server[0]), server[1]
        base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    return document | {"status_url": f"{base}{path}"}
