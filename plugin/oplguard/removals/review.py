"""Admin decisions on removal requests: approve (edit the lists) or deny, with an audit line.

Approving rewrites each list file atomically (``ListStore.remove_entry`` /
``add_entry``); a running ``oplguard serve`` polls the files and picks the
change up without a restart.  Blocking: list files and the database.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from oplguard.errors import ListError
from oplguard.lists.store import ListHit, ListStore
from oplguard.removals.model import (
    APPROVED,
    DENIED,
    MAX_NOTE_CHARS,
    AuditEntry,
    RemovalRequest,
    ReviewError,
    check_text,
)
from oplguard.removals.store import RemovalStore

audit_log = logging.getLogger("oplguard.removals.audit")


def approve(
    store: RemovalStore, lists: ListStore, request_id: str, *, note: str, actor: str, now: float
) -> RemovalRequest:
    """Delist the request's IP from every list that holds it, then record the approval.

    An entry for exactly the IP is removed; an IP inside a listed network
    gets an exclusion line instead, so the rest of the network stays listed.

    Raises:
        ReviewError: unknown or already decided request, or a bad note.
        ListError: a list file cannot be rewritten (recorded in the audit log).
    """
    note = check_text("note", note, MAX_NOTE_CHARS, required=False)
    request = _pending(store, request_id)
    lists.reload()  # decide on the files as they are now, not as this process last saw them
    when = datetime.fromtimestamp(now, UTC)
    outcome: list[str] = []
    try:
        # One step per entry: an exact entry inside a listed network takes
        # two (remove it, then exclude the address from the network).
        for _ in range(2 * len(lists.configs) + 1):
            hits = lists.snapshot.lookup(request.ip, when)
            if not hits:
                break
            outcome.append(_delist(lists, hits[0], request))
    except ListError as err:
        detail = "; ".join([*outcome, f"failed: {err}"])
        store.record(AuditEntry(now, request.id, actor, "approve-failed", note, detail))
        audit_log.error("removal approve failed request=%s ip=%s: %s", request.id, request.ip, err)
        raise
    if not outcome:
        outcome.append(f"{request.ip} was no longer listed; nothing to change")
    entry = AuditEntry(now, request.id, actor, APPROVED, note, "; ".join(outcome))
    decided = store.decide(request.id, APPROVED, entry, outcome)
    audit_log.warning(
        "removal approved request=%s ip=%s by=%s: %s", request.id, request.ip, actor, entry.detail
    )
    return decided


def deny(
    store: RemovalStore, request_id: str, *, note: str, actor: str, now: float
) -> RemovalRequest:
    """Record a denial; the lists stay as they are.

    Raises:
        ReviewError: unknown or already decided request, or a bad note.
    """
    note = check_text("note", note, MAX_NOTE_CHARS, required=False)
    request = _pending(store, request_id)
    decided = store.decide(request.id, DENIED, AuditEntry(now, request.id, actor, DENIED, note))
    audit_log.warning("removal denied request=%s ip=%s by=%s", request.id, request.ip, actor)
    return decided


def _pending(store: RemovalStore, request_id: str) -> RemovalRequest:
    request = store.require(request_id.strip().lower())
    if request.status != "pending":
        raise ReviewError(
            f"removal request {request.id} was already {request.status} by {request.decided_by}"
        )
    return request


def _delist(lists: ListStore, hit: ListHit, request: RemovalRequest) -> str:
    network = hit.entry.network
    if network == request.ip:
        lists.remove_entry(hit.list_name, request.ip)
        return f"removed {network} from {hit.list_name} (was line {hit.entry.line})"
    lists.add_entry(
        hit.list_name,
        request.ip,
        f"delisted by removal request {request.id}",
        is_exclusion=True,
    )
    return f"excluded {request.ip} from {hit.list_name} (inside listed {network})"


def decide(
    store: RemovalStore,
    lists: ListStore,
    action: str,
    request_id: str,
    *,
    note: str,
    actor: str,
    now: float,
) -> RemovalRequest:
    """``approve`` or ``deny`` by name (the web page and the API take the action as text)."""
    if action == "approve":
        return approve(store, lists, request_id, note=note, actor=actor, now=now)
    return deny(store, request_id, note=note, actor=actor, now=now)
