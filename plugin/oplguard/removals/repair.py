"""Finishing approvals a crash interrupted: decided in the store, not yet applied to the lists.

Every approval holds all list locks from before its decision until its
outcome is recorded, so a journal row of this host found under those locks
belongs to an editor that died (``kill -9``, power loss).  Its edit is done
again (it is idempotent: an IP no longer listed needs nothing) and audited as
``approve-repaired``; if the edit fails the request goes back to pending.
Rows of other hosts are reported, not touched: their lists are theirs.
"""

from __future__ import annotations

import logging
import socket

from oplguard.errors import ListError
from oplguard.lists.edit import locked
from oplguard.lists.store import ListStore
from oplguard.removals.delist import delist
from oplguard.removals.model import AuditEntry, JournalEntry
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import AuditAction

audit_log = logging.getLogger("oplguard.removals.audit")


def recover(store: RemovalStore, lists: ListStore, *, actor: str, now: float) -> list[str]:
    """Repair this host's interrupted approvals; report every other host's.

    Returns:
        One line per journal row: what was repaired, rolled back or is left to its host.
    """
    if not store.journal():  # the common case: one query, no lock
        return []
    host = socket.gethostname()
    report: list[str] = []
    with locked(config.path for config in lists.configs):
        for row in store.journal():
            if row.host != host:
                report.append(
                    f"request {row.request_id} ({row.ip}) was approved by {row.actor} on "
                    f"{row.host} and is not yet applied there; run oplguard removals on {row.host}"
                )
                audit_log.warning("removal journal: %s", report[-1])
                continue
            report.append(_repair(store, lists, row, actor, now))
    return report


def _repair(
    store: RemovalStore, lists: ListStore, row: JournalEntry, actor: str, now: float
) -> str:
    request = store.require(row.request_id)
    lists.reload()
    why = f"approval by {row.actor} was interrupted before its list edit"
    try:
        outcome = delist(lists, request, now)
    except ListError as err:
        entry = AuditEntry(
            now, request.id, actor, AuditAction.APPROVE_FAILED, request.note, f"{why}; {err}"
        )
        store.roll_back(entry)
        audit_log.error("removal repair failed request=%s: %s; pending again", request.id, err)
        return f"request {request.id} ({request.ip}): {why}; the edit failed ({err}); pending again"
    detail = f"{why}; finished: {'; '.join(outcome)}"
    store.complete(
        AuditEntry(now, request.id, actor, AuditAction.APPROVE_REPAIRED, request.note, detail),
        outcome,
    )
    audit_log.warning("removal repaired request=%s ip=%s: %s", request.id, request.ip, detail)
    return f"request {request.id} ({request.ip}): {detail}"
