"""The admin review page behind the admin token: queue, approve, deny.

Login takes the token once (constant-time compare) and sets a signed,
HttpOnly, SameSite=Strict session cookie; every action form carries the CSRF
token too.  The audit actor is ``admin-web:<client address>``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from oplguard.config.vocabulary import member
from oplguard.errors import InputError, ListError
from oplguard.removals.model import ReviewError
from oplguard.removals.notify import notices
from oplguard.removals.vocabulary import RequestStatus, ReviewAction
from oplguard.web.render import client_of, page, state_of
from oplguard.web.security import (
    ADMIN_COOKIE,
    ADMIN_SESSION_S,
    admin_session,
    check_csrf,
    is_admin,
    read_form,
    token_matches,
)

# Decided requests shown under the queue: the recent past, not the archive.
RECENT_DECIDED = 20
# Pending requests per admin page (each shows its requesters and a decision form).
QUEUE_PAGE = 50


async def admin_page(request: Request) -> Response:
    """``GET /admin``: the login form, or the queue once logged in."""
    state = state_of(request)
    if not state.admin_token:
        raise HTTPException(404, "admin review is off on this server (no [web] admin token)")
    if not is_admin(request, state.admin_token):
        return page(request, "admin_login.html", {"error": ""})
    return page(request, "admin.html", await asyncio.to_thread(_queue, state, request))


def _queue(state: Any, request: Request) -> dict[str, Any]:
    store = state.store
    number = page_number(request.query_params.get("page", "1"))
    rows = store.requests(RequestStatus.PENDING, QUEUE_PAGE + 1, (number - 1) * QUEUE_PAGE)
    pending = [(r, store.contacts(r.id)) for r in rows[:QUEUE_PAGE]]
    decided = [r for r in store.requests() if r.status != RequestStatus.PENDING][:RECENT_DECIDED]
    done = request.query_params.get("done", "")
    undelivered = notices(store, undelivered=True)
    return {
        "pending": pending,
        "decided": decided,
        "done": done[:40],
        "error": "",
        "notices": undelivered,
        "page": number,
        "next_page": number + 1 if len(rows) > QUEUE_PAGE else None,
    }


def page_number(text: str) -> int:
    """``?page=N`` (1 to 100 000), 400 for anything else."""
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= 100_000):
        raise HTTPException(400, "page must be a whole number from 1 to 100000")
    return int(text)


async def admin_login(request: Request) -> Response:
    """``POST /admin/login``: check the token, set the session cookie."""
    state = state_of(request)
    form = await read_form(request)
    check_csrf(request, form)
    if not token_matches(state.admin_token, form.get("token", "")):
        return page(request, "admin_login.html", {"error": "wrong admin token"}, 401)
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(
        ADMIN_COOKIE,
        admin_session(state.admin_token),
        max_age=ADMIN_SESSION_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def admin_logout(request: Request) -> Response:
    form = await read_form(request)
    check_csrf(request, form)
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/")
    return response


async def admin_decide(request: Request) -> Response:
    """``POST /admin/removals/{id}``: approve or deny with a note."""
    state = state_of(request)
    if not is_admin(request, state.admin_token):
        raise HTTPException(401, "log in with the admin token first")
    form = await read_form(request)
    check_csrf(request, form)
    action = member(ReviewAction, form.get("action", ""))
    if action is None:
        raise HTTPException(400, "action must be approve or deny")
    request_id = str(request.path_params["request_id"])
    note = form.get("note", "")
    actor = f"admin-web:{client_of(request)}"
    try:
        await state.decide(action, request_id, note=note, actor=actor)
    except ReviewError as err:  # unknown, or already decided (also by a concurrent decision)
        raise HTTPException(409, str(err)) from err
    except InputError as err:  # a bad note
        raise HTTPException(422, str(err)) from err
    except ListError as err:
        raise HTTPException(500, f"the list could not be changed: {err}") from err
    return RedirectResponse(f"/admin?done={request_id}", status_code=303)
