"""The ASGI app of ``oplguard web``: routes and error handlers only.

HTML errors render error.html, API errors are JSON; a database that fails
answers 503 and anything unexpected 500 with a generic message (the
traceback goes to the log, never to the client).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oplguard.storage.db import StoreError
from oplguard.web import admin, api, ops, pages
from oplguard.web.render import json_error, page
from oplguard.web.state import WebState

log = logging.getLogger(__name__)

ROUTES = [
    Route("/", pages.lookup_page, methods=["GET"], name="home"),
    Route("/lookup", pages.lookup_page, methods=["GET"], name="lookup"),
    Route("/removals", pages.removal_submit, methods=["POST"], name="removal_submit"),
    Route("/removals/{request_id}", pages.removal_status, methods=["GET"], name="removal_status"),
    Route("/static/oplguard.css", pages.stylesheet, methods=["GET"], name="stylesheet"),
    Route("/admin", admin.admin_page, methods=["GET"], name="admin"),
    Route("/admin/login", admin.admin_login, methods=["POST"]),
    Route("/admin/logout", admin.admin_logout, methods=["POST"]),
    Route("/admin/ops", ops.ops_page, methods=["GET"], name="ops"),
    Route("/admin/removals/{request_id}", admin.admin_decide, methods=["POST"]),
    Route("/api/v1/openapi.json", api.openapi, methods=["GET"]),
    Route("/api/v1/ip/{ip:path}", api.ip_lookup, methods=["GET"]),
    Route("/api/v1/removals", api.removal_create, methods=["POST"]),
    Route("/api/v1/removals/{request_id}", api.removal_get, methods=["GET"]),
    Route("/api/v1/admin/removals", api.admin_list, methods=["GET"]),
    Route(
        "/api/v1/admin/removals/{request_id}/{action:str}",
        api.admin_decide,
        methods=["POST"],
    ),
]


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if _is_api(request):
        return json_error(exc.status_code, str(exc.detail), headers)
    title = HTTPStatus(exc.status_code).phrase
    response = page(
        request,
        "error.html",
        {"status": exc.status_code, "title": title, "message": exc.detail},
        exc.status_code,
    )
    response.headers.update(headers)
    return response


async def store_error(request: Request, exc: Exception) -> Response:
    log.error("removal store failed on %s: %s", request.url.path, exc)
    message = "the request store is unavailable; try again later"
    if _is_api(request):
        return json_error(503, message, {"Retry-After": "60"})
    return page(
        request, "error.html", {"status": 503, "title": "Unavailable", "message": message}, 503
    )


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    message = "an unexpected error happened; it has been logged"
    if _is_api(request):
        return json_error(500, message)
    return page(request, "error.html", {"status": 500, "title": "Error", "message": message}, 500)


def create_app(state: WebState) -> Starlette:
    """The app over a built WebState; the lifespan runs the list poller."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with state.running():
            yield

    app = Starlette(
        routes=ROUTES,
        exception_handlers={
            HTTPException: http_error,
            StoreError: store_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.web = state
    return app
