"""The notice outbox: one row per requester of a decided request, until the relay takes it.

Rows are written in the decision's own transaction (``RemovalStore``), so a
decision never loses its notices; a sender takes a due row with a
compare-and-set lease, so two web processes never send one notice twice.
Blocking (database).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oplguard.removals.vocabulary import DeliveryStatus

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS removal_notices (
        request_id TEXT NOT NULL,
        email TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at DOUBLE PRECISION NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        created_at DOUBLE PRECISION NOT NULL,
        sent_at DOUBLE PRECISION,
        PRIMARY KEY (request_id, email))""",
    "CREATE INDEX IF NOT EXISTS removal_notices_due ON removal_notices (status, next_at)",
)
ENQUEUE = (
    "INSERT INTO removal_notices (request_id, email, status, attempts, next_at, created_at) "
    "SELECT DISTINCT request_id, email, ?, 0, ?, ? FROM removal_contacts WHERE request_id = ? "
    "ON CONFLICT (request_id, email) DO NOTHING"
)
_COLUMNS = "request_id, email, status, attempts, next_at, last_error, created_at, sent_at"


@dataclass(frozen=True, slots=True)
class Notice:
    """One e-mail to one requester about one decision, and how its delivery goes."""

    request_id: str
    email: str
    status: DeliveryStatus
    attempts: int
    next_at: float
    last_error: str
    created_at: float
    sent_at: float | None = None


def enqueue_params(request_id: str, at: float) -> tuple[Any, ...]:
    """Parameters of ``ENQUEUE`` for one request decided at ``at`` (due at once)."""
    return (DeliveryStatus.PENDING, at, at, request_id)


def notice_of(row: Sequence[Any]) -> Notice:
    rid, email, status, attempts, next_at, error, created, sent = row
    return Notice(
        str(rid),
        str(email),
        DeliveryStatus(str(status)),
        int(attempts),
        float(next_at),
        str(error),
        float(created),
        None if sent is None else float(sent),
    )


def select(where: str) -> str:
    return f"SELECT {_COLUMNS} FROM removal_notices {where}"
