"""The public HTML pages: lookup, removal form, request status.

Handlers only: input goes through ``removals`` and ``web.lookup``, blocking
work through ``asyncio.to_thread``; every page is rendered with autoescape.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from oplguard.errors import InputError
from oplguard.removals.intake import submit_request
from oplguard.removals.model import (
    MAX_EMAIL_CHARS,
    MAX_EXPLANATION_CHARS,
    REQUEST_ID,
    RemovalRequest,
    parse_public_ip,
)
from oplguard.removals.ratelimit import RateLimited
from oplguard.removals.vocabulary import SubmissionStatus
from oplguard.web.lookup import ip_report
from oplguard.web.rdns import diagnose
from oplguard.web.render import client_of, network_of, page, retry_headers, state_of
from oplguard.web.security import check_csrf, read_form

# What ``?filed=`` may say on a status page after a submission.
FILED = (SubmissionStatus.SUBMITTED, SubmissionStatus.MERGED)


async def lookup_page(request: Request) -> Response:
    """``GET /`` and ``GET /lookup?ip=...``: the form, and the answer when an IP is given."""
    text = request.query_params.get("ip", "")
    if not text.strip():
        return page(request, "lookup.html", _blank())
    return await _answer(request, text, {})


async def _answer(
    request: Request, text: str, extra: dict[str, Any], status: int = 200
) -> Response:
    state = state_of(request)
    refusal = state.lookups.hit(network_of(request), time.monotonic())
    if refusal is not None:
        raise HTTPException(429, refusal.reason, headers=retry_headers(refusal))
    try:
        ip = parse_public_ip(text)
    except InputError as err:
        return page(request, "lookup.html", _blank(text) | {"error": str(err)}, 400)
    report = ip_report(state.lists.snapshot, ip, datetime.now(UTC))
    rdns = await diagnose(ip, state.resolver, state.cfg.web.dns_timeout_s)
    context = _blank(ip) | {"report": report, "rdns": rdns.as_dict()} | extra
    return page(request, "lookup.html", context, status)


def _blank(query: str = "") -> dict[str, Any]:
    return {
        "query": query,
        "report": None,
        "rdns": None,
        "error": "",
        "form_error": "",
        "form": {"email": "", "explanation": ""},
        "notice": "",
        "max_email": MAX_EMAIL_CHARS,
        "max_explanation": MAX_EXPLANATION_CHARS,
    }


async def removal_submit(request: Request) -> Response:
    """``POST /removals``: file a request (303 to its status page) or say why not."""
    form = await read_form(request)
    check_csrf(request, form)
    state = state_of(request)
    ip_text = form.get("ip", "")
    network = network_of(request)
    over = state.submissions.full(network, time.monotonic())
    if over is not None:
        raise HTTPException(429, over.reason, headers=retry_headers(over))
    try:
        result = await asyncio.to_thread(
            submit_request,
            state.store,
            state.lists.snapshot,
            ip=ip_text,
            email=form.get("email", ""),
            explanation=form.get("explanation", ""),
            client=client_of(request),
            limits=state.limits,
            now=time.time(),
        )
    except RateLimited as err:
        raise HTTPException(429, str(err), headers=retry_headers(err.retry_after_s)) from err
    except InputError as err:
        kept = {"email": form.get("email", ""), "explanation": form.get("explanation", "")}
        return await _answer(request, ip_text, {"form_error": str(err), "form": kept}, 400)
    if result.status == SubmissionStatus.NOT_LISTED or result.request is None:
        notice = f"{result.ip} is not on any list: there is nothing to remove."
        return await _answer(request, result.ip, {"notice": notice})
    state.submissions.hit(network, time.monotonic())  # a filed request counts
    url = request.url_for("removal_status", request_id=result.request.id)
    return RedirectResponse(f"{url.path}?filed={result.status}", status_code=303)


async def removal_status(request: Request) -> Response:
    """``GET /removals/{id}``: status, decision and note of one request."""
    found = await _request_or_404(request)
    filed = request.query_params.get("filed", "")
    return page(
        request,
        "status.html",
        {"request": found, "filed": filed if filed in FILED else ""},
    )


async def _request_or_404(request: Request) -> RemovalRequest:
    request_id = str(request.path_params["request_id"]).lower()
    if not REQUEST_ID.fullmatch(request_id):
        raise HTTPException(404, "no such removal request")
    state = state_of(request)
    found = await asyncio.to_thread(state.store.get, request_id)
    if found is None:
        raise HTTPException(404, "no such removal request")
    return found


async def stylesheet(request: Request) -> Response:
    return Response(
        state_of(request).stylesheet,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
