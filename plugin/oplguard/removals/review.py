"""Admin decisions on removal requests: one decision, one edit, audited whatever happens.

Approving holds every list's cross-process lock, decides in the store with a
compare-and-set (exactly one of concurrent decisions wins; the journal row
marks the edit as in flight), edits the lists, then records the outcome; a
failed edit rolls the request back to pending.  A running ``oplguard serve``
polls the files and picks the change up without a restart.  Blocking.
"""

from __future__ import annotations

import logging
import socket

from oplguard.errors import ListError
from oplguard.lists.edit import locked
from oplguard.lists.store import ListStore
from oplguard.removals.delist import delist
from oplguard.removals.model import (
    MAX_NOTE_CHARS,
    AlreadyDecided,
    AuditEntry,
    RemovalRequest,
    check_text,
)
from oplguard.removals.repair import recover
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import AuditAction, RequestStatus, ReviewAction

audit_log = logging.getLogger("oplguard.removals.audit")
# Audit action of a decision that lost (to a concurrent one, or came late).
REFUSED = {
    RequestStatus.APPROVED: AuditAction.APPROVE_REFUSED,
    RequestStatus.DENIED: AuditAction.DENY_REFUSED,
}


def approve(
    store: RemovalStore, lists: ListStore, request_id: str, *, note: str, actor: str, now: float
) -> RemovalRequest:
    """Decide, then delist the request's IP from every list that holds it.

    Raises:
        AlreadyDecided: another decision came first (audited; nothing changed).
        ReviewError: unknown request, or a bad note.
        ListError: a list file cannot be written (the request is pending again; audited).
    """
    note = check_text("note", note, MAX_NOTE_CHARS, required=False)
    request = store.require(request_id.strip().lower())
    with locked(config.path for config in lists.configs):
        recover(store, lists, actor=actor, now=now)
        lists.reload()  # decide on the files as they are now, not as this process last saw them
        entry = AuditEntry(now, request.id, actor, AuditAction.APPROVED, note)
        _claim(store, RequestStatus.APPROVED, entry, host=socket.gethostname())
        try:
            outcome = delist(lists, request, now)
        except ListError as err:
            failed = AuditEntry(
                now, request.id, actor, AuditAction.APPROVE_FAILED, note, f"failed: {err}"
            )
            store.roll_back(failed)
            audit_log.error(
                "removal approve failed request=%s ip=%s: %s", request.id, request.ip, err
            )
            raise
        decided = store.complete(
            AuditEntry(now, request.id, actor, AuditAction.APPROVED, note, "; ".join(outcome)),
            outcome,
        )
    audit_log.warning(
        "removal approved request=%s ip=%s by=%s: %s",
        request.id,
        request.ip,
        actor,
        "; ".join(outcome),
    )
    return decided


def deny(
    store: RemovalStore, request_id: str, *, note: str, actor: str, now: float
) -> RemovalRequest:
    """Record a denial; the lists stay as they are.

    Raises:
        AlreadyDecided: another decision came first (audited; nothing changed).
        ReviewError: unknown request, or a bad note.
    """
    note = check_text("note", note, MAX_NOTE_CHARS, required=False)
    request = store.require(request_id.strip().lower())
    entry = AuditEntry(now, request.id, actor, AuditAction.DENIED, note)
    decided = _claim(store, RequestStatus.DENIED, entry)
    audit_log.warning("removal denied request=%s ip=%s by=%s", request.id, request.ip, actor)
    return decided


def _claim(
    store: RemovalStore, status: RequestStatus, entry: AuditEntry, host: str = ""
) -> RemovalRequest:
    """The compare-and-set to ``status``; a lost race is audited before it is reported."""
    try:
        return store.decide(entry.request_id, status, entry, host=host)
    except AlreadyDecided as err:
        store.record(
            AuditEntry(
                entry.at, entry.request_id, entry.actor, REFUSED[status], entry.note, str(err)
            )
        )
        audit_log.warning("removal %s refused request=%s: %s", entry.action, entry.request_id, err)
        raise


def decide(
    store: RemovalStore,
    lists: ListStore,
    action: ReviewAction,
    request_id: str,
    *,
    note: str,
    actor: str,
    now: float,
) -> RemovalRequest:
    """Approve or deny by the reviewer's word (the web page and the API take it as text)."""
    if action == ReviewAction.APPROVE:
        return approve(store, lists, request_id, note=note, actor=actor, now=now)
    return deny(store, request_id, note=note, actor=actor, now=now)
