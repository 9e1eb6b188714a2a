"""``GET /admin/ops``: the operations page behind the admin token.

Verdicts over time by action, hits by list and by hop depth, the top offending
IPs and networks, the allow entries that exempted relays and the pending
removal requests, for one time window and optionally one host, from the
tracking store (``tracking/summary.py`` bounds every query).  Charts are SVG
drawn here (``charts.py``), each followed by its numbers in a table.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from oplguard.config.model import SenderEntry
from oplguard.removals.model import RemovalRequest
from oplguard.removals.store import MAX_LIST_ROWS
from oplguard.removals.vocabulary import RequestStatus
from oplguard.tracking.summary import (
    ACTIONS,
    DEFAULT_WINDOW,
    MAX_SCAN_ROWS,
    WINDOWS,
    Summarizer,
    Summary,
    Window,
)
from oplguard.web import charts
from oplguard.web.render import page, state_of
from oplguard.web.security import is_admin
from oplguard.web.state import WebState

# One summary at a time per process: a second admin (or a reload storm) waits
# this long for the first, then is told to retry; the database never runs two.
OPS_WAIT_S = 20.0
# Pending removal requests listed (oldest first); the admin page has them all.
PENDING_ROWS = 10
# A host name as the tracking records carry it (RFC 1035 §2.3.4: 255 octets).
MAX_HOST_CHARS = 255
ACTION_COLOURS = dict(zip(ACTIONS, charts.PALETTE, strict=False))
_busy = threading.BoundedSemaphore(1)


async def ops_page(request: Request) -> Response:
    """The page, or the login form's address when not logged in."""
    state = state_of(request)
    if not state.admin_token:
        raise HTTPException(404, "admin review is off on this server (no [web] admin token)")
    if not is_admin(request, state.admin_token):
        return RedirectResponse("/admin", status_code=303)
    window_name = request.query_params.get("window", DEFAULT_WINDOW)
    if window_name not in WINDOWS:
        raise HTTPException(400, f"window must be one of {', '.join(WINDOWS)}")
    host = request.query_params.get("host", "").strip()
    if len(host) > MAX_HOST_CHARS or not host.isprintable():
        raise HTTPException(400, f"host must be a printable name of at most {MAX_HOST_CHARS}")
    window = Window.named(window_name, time.time())
    summary, pending = await asyncio.to_thread(_read, state, window, host)
    context = view(summary, pending, state.cfg.allowed_senders)
    return page(request, "ops.html", {**context, "window_name": window_name, "windows": WINDOWS})


def _read(state: WebState, window: Window, host: str) -> tuple[Summary, list[RemovalRequest]]:
    if not _busy.acquire(timeout=OPS_WAIT_S):
        busy = "another operations summary is running; try again"
        raise HTTPException(503, busy, {"Retry-After": "10"})
    try:
        summary = Summarizer(state.store.db).summary(window, host)
        pending = state.store.requests(RequestStatus.PENDING)
    finally:
        _busy.release()
    return summary, pending


def column_labels(window: Window) -> list[str]:
    """Each bucket's start, in UTC, as short as the bucket size allows."""
    shape = "%H:%M" if window.bucket_s < 86400 else "%m-%d"
    if window.end - window.start > 86400 and window.bucket_s < 86400:
        shape = "%m-%d %H:%M"
    return [
        datetime.fromtimestamp(window.start + i * window.bucket_s, UTC).strftime(shape)
        for i in range(window.buckets)
    ]


def bucket_text(seconds: int) -> str:
    """``5 minutes``, ``hour``, ``6 hours``, ``day``: what one column covers."""
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return name if count == 1 else f"{count} {name}s"
    return f"{seconds} seconds"


def view(
    summary: Summary, pending: Sequence[RemovalRequest], allowed_senders: Sequence[SenderEntry]
) -> dict[str, Any]:
    """Everything the template shows: charts, their tables, the lists."""
    columns = column_labels(summary.window)
    series = [
        charts.Series(action, values, ACTION_COLOURS.get(action, charts.PALETTE[-1]))
        for action, values in summary.timeline.items()
    ]
    by_list = list(summary.hits_by_list.items())
    by_hop = [(f"hop {hop}", count) for hop, count in summary.hits_by_hop.items()]
    return {
        "summary": summary,
        "max_scan_rows": MAX_SCAN_ROWS,
        "bucket": bucket_text(summary.window.bucket_s),
        "columns": columns,
        "timeline_rows": [
            (column, [summary.timeline[action][i] for action in summary.timeline])
            for i, column in enumerate(columns)
        ],
        "timeline_chart": charts.stacked_columns(
            "chart-verdicts", "Verdicts over time by action", columns, series
        ),
        "list_chart": charts.horizontal_bars("chart-lists", "Hits by list", by_list),
        "hop_chart": charts.horizontal_bars("chart-hops", "Hits by hop depth", by_hop),
        "ip_chart": charts.horizontal_bars(
            "chart-ips",
            "Top offending IPs",
            [(item.name, item.messages) for item in summary.top_ips],
            charts.PALETTE[0],
        ),
        "overrides": overrides(summary.allowed, allowed_senders),
        "pending": pending[-PENDING_ROWS:][::-1],
        "pending_count": len(pending),
        "pending_cap": MAX_LIST_ROWS,
    }


def overrides(used: dict[str, int], allowed_senders: Sequence[SenderEntry]) -> list[dict[str, Any]]:
    """Each configured allow entry with the relays it exempted, then those gone from the config."""
    rows = [
        {
            "network": entry.network,
            "scope": entry.scope,
            "comment": entry.comment,
            "expires": entry.expires.date().isoformat() if entry.expires else "",
            "used": used.get(entry.network, 0),
        }
        for entry in allowed_senders
    ]
    known = {row["network"] for row in rows}
    rows += [
        {"network": net, "scope": "", "comment": "(no longer configured)", "expires": "", "used": n}
        for net, n in used.items()
        if net not in known
    ]
    return sorted(rows, key=lambda row: (-row["used"], row["network"]))
