"""RemovalStore: removal requests, their requesters and the audit log in the tracking database.

The same ``Database`` (SQLite by default, PostgreSQL for a fleet) that holds
tracking records.  Blocking: the web service calls it through
``asyncio.to_thread``.  A partial unique index keeps one pending request per
IP, so concurrent submissions for one IP merge even across processes.
"""

from __future__ import annotations

import base64
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from oplguard.config.model import Config
from oplguard.errors import ConfigError
from oplguard.removals.model import (
    AlreadyDecided,
    AuditEntry,
    Contact,
    JournalEntry,
    RemovalRequest,
    ReviewError,
)
from oplguard.removals.outbox import ENQUEUE, enqueue_params
from oplguard.removals.outbox import SCHEMA as OUTBOX_SCHEMA
from oplguard.removals.vocabulary import AuditAction, RequestStatus
from oplguard.storage.db import Database, StoreError

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS removal_requests (
        id TEXT PRIMARY KEY,
        ip TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        lists TEXT NOT NULL,
        decided_at DOUBLE PRECISION,
        decided_by TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL DEFAULT '')""",
    """CREATE UNIQUE INDEX IF NOT EXISTS removal_requests_pending_ip
        ON removal_requests (ip) WHERE status = 'pending'""",
    """CREATE TABLE IF NOT EXISTS removal_contacts (
        request_id TEXT NOT NULL,
        ip TEXT NOT NULL,
        email TEXT NOT NULL,
        explanation TEXT NOT NULL,
        client TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS removal_contacts_client ON removal_contacts (client, at)",
    "CREATE INDEX IF NOT EXISTS removal_contacts_ip ON removal_contacts (ip, at)",
    """CREATE TABLE IF NOT EXISTS removal_audit (
        at DOUBLE PRECISION NOT NULL,
        request_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS removal_audit_request ON removal_audit (request_id, at)",
    # An approval between its decision and its list edit: written with the
    # decision, deleted with the outcome; a row left over is a crashed editor.
    """CREATE TABLE IF NOT EXISTS removal_journal (
        request_id TEXT PRIMARY KEY,
        ip TEXT NOT NULL,
        host TEXT NOT NULL,
        actor TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL)""",
)
_COLUMNS = "id, ip, status, created_at, updated_at, lists, decided_at, decided_by, note, outcome"
_REQUESTERS = "(SELECT COUNT(*) FROM removal_contacts c WHERE c.request_id = r.id)"
_SELECT = f"SELECT {_COLUMNS}, {_REQUESTERS} FROM removal_requests r"
# An admin listing is a page, not a dump of years of history.
MAX_LIST_ROWS = 500


def new_request_id() -> str:
    """16 base32 characters (80 random bits): unguessable, so the id is the status page's key."""
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()


class RemovalStore:
    """Removal requests over one ``Database``; creates its tables on first use.

    With ``notify`` a decision also queues a notice to each requester, in
    the decision's own transaction (``removals.outbox``).
    """

    def __init__(self, db: Database, *, notify: bool = False) -> None:
        self.db = db
        self.notify = notify
        db.create_schema(SCHEMA + OUTBOX_SCHEMA)

    def submit(
        self, ip: str, lists: Sequence[str], contact: Contact
    ) -> tuple[RemovalRequest, bool]:
        """File a request for ``ip``, or merge into its pending one.

        Returns:
            The request and whether it was merged into an existing one.
        """
        new_id = new_request_id()
        with self.transaction() as run:
            run(
                f"INSERT INTO removal_requests ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, NULL, '', '', '') "
                "ON CONFLICT (ip) WHERE status = 'pending' DO NOTHING",
                (new_id, ip, RequestStatus.PENDING, contact.at, contact.at, "\n".join(lists)),
            )
            rows = run(
                f"{_SELECT} WHERE ip = ? AND status = ?", (ip, RequestStatus.PENDING)
            ).fetchall()
            request = _request(rows[0])
            merged = request.id != new_id
            run(
                "INSERT INTO removal_contacts (request_id, ip, email, explanation, client, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (request.id, ip, contact.email, contact.explanation, contact.client, contact.at),
            )
            self._audit(run, AuditEntry(contact.at, request.id, contact.client, _action(merged)))
            if merged:
                run(
                    "UPDATE removal_requests SET updated_at = ? WHERE id = ?",
                    (contact.at, request.id),
                )
        found = self.get(request.id)
        assert found is not None  # written in the transaction above
        return found, merged

    def get(self, request_id: str) -> RemovalRequest | None:
        rows = self.db.query(f"{_SELECT} WHERE id = ?", (request_id,))
        return _request(rows[0]) if rows else None

    def require(self, request_id: str) -> RemovalRequest:
        """The request with this id.

        Raises:
            ReviewError: there is none.
        """
        request = self.get(request_id)
        if request is None:
            raise ReviewError(f"no removal request {request_id!r}")
        return request

    def requests(
        self, status: RequestStatus | None = None, limit: int = MAX_LIST_ROWS, offset: int = 0
    ) -> list[RemovalRequest]:
        """Newest first; only ``status`` when given; ``offset`` rows skipped (pages)."""
        where, params = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = self.db.query(
            f"{_SELECT} {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            (*params, min(limit, MAX_LIST_ROWS), max(offset, 0)),
        )
        return [_request(row) for row in rows]

    def contacts(self, request_id: str) -> list[Contact]:
        rows = self.db.query(
            "SELECT email, explanation, client, at FROM removal_contacts "
            "WHERE request_id = ? ORDER BY at",
            (request_id,),
        )
        return [Contact(str(e), str(x), str(c), float(a)) for e, x, c, a in rows]

    def audit(self, request_id: str | None = None) -> list[AuditEntry]:
        """The audit log, oldest first (one request's, or all)."""
        where, params = ("WHERE request_id = ?", (request_id,)) if request_id else ("", ())
        rows = self.db.query(
            f"SELECT at, request_id, actor, action, note, detail FROM removal_audit {where} "
            "ORDER BY at",
            params,
        )
        return [
            AuditEntry(float(a), str(r), str(w), str(x), str(n), str(d))
            for a, r, w, x, n, d in rows
        ]

    def submissions_since(self, *, since: float, client: str = "", ip: str = "") -> int:
        """How many submissions one client (or for one IP) made since ``since``."""
        column, value = ("client", client) if client else ("ip", ip)
        rows = self.db.query(
            f"SELECT COUNT(*) FROM removal_contacts WHERE {column} = ? AND at >= ?", (value, since)
        )
        return int(rows[0][0])

    def decide(
        self, request_id: str, status: RequestStatus, entry: AuditEntry, *, host: str = ""
    ) -> RemovalRequest:
        """Compare-and-set pending -> ``status``: of concurrent decisions exactly one wins.

        Audited here; an approval also writes its journal row (``host`` is the
        editor's) and gets its outcome and notices with ``complete``.

        Raises:
            AlreadyDecided: the request is no longer pending (nothing was changed).
            ReviewError: the request is unknown.
        """
        with self.transaction() as run:
            cursor = run(
                "UPDATE removal_requests SET status = ?, updated_at = ?, decided_at = ?, "
                "decided_by = ?, note = ?, outcome = '' WHERE id = ? AND status = ?",
                (
                    status,
                    entry.at,
                    entry.at,
                    entry.actor,
                    entry.note,
                    request_id,
                    RequestStatus.PENDING,
                ),
            )
            if cursor.rowcount == 1:
                self._audit(run, entry)
            if cursor.rowcount == 1 and status == RequestStatus.APPROVED:
                run(
                    "INSERT INTO removal_journal (request_id, ip, host, actor, started_at) "
                    "SELECT id, ip, ?, ?, ? FROM removal_requests WHERE id = ?",
                    (host, entry.actor, entry.at, request_id),
                )
            elif cursor.rowcount == 1:
                self._enqueue(run, entry)
        request = self.require(request_id)
        if cursor.rowcount != 1:
            raise AlreadyDecided(
                f"removal request {request.id} is not pending: it was already {request.status} "
                f"by {request.decided_by}"
            )
        return request

    def complete(self, entry: AuditEntry, outcome: Sequence[str]) -> RemovalRequest:
        """An approval's list edit is done: record what changed, drop its journal row."""
        with self.transaction() as run:
            run(
                "UPDATE removal_requests SET outcome = ?, updated_at = ? WHERE id = ?",
                ("\n".join(outcome), entry.at, entry.request_id),
            )
            run("DELETE FROM removal_journal WHERE request_id = ?", (entry.request_id,))
            # The decision's own audit line gets the outcome; a repair adds its own.
            cursor = run(
                "UPDATE removal_audit SET detail = ? "
                "WHERE request_id = ? AND action = ? AND at = ? AND actor = ?",
                (entry.detail, entry.request_id, entry.action, entry.at, entry.actor),
            )
            if cursor.rowcount == 0:
                self._audit(run, entry)
            self._enqueue(run, entry)
        return self.require(entry.request_id)

    def roll_back(self, entry: AuditEntry) -> RemovalRequest:
        """An approval's list edit failed: back to pending, journal row dropped, audited.

        If the IP got a new pending request meanwhile (its slot was free while
        this one was approved), that one's requesters are merged into this one.
        """
        request_id = entry.request_id
        with self.transaction() as run:
            (ip,) = run("SELECT ip FROM removal_requests WHERE id = ?", (request_id,)).fetchone()
            for (other,) in run(
                "SELECT id FROM removal_requests WHERE ip = ? AND status = ?",
                (ip, RequestStatus.PENDING),
            ).fetchall():
                run(
                    "UPDATE removal_contacts SET request_id = ? WHERE request_id = ?",
                    (request_id, other),
                )
                run(
                    "UPDATE removal_audit SET request_id = ? WHERE request_id = ?",
                    (request_id, other),
                )
                run("DELETE FROM removal_requests WHERE id = ?", (other,))
            run(
                "UPDATE removal_requests SET status = ?, updated_at = ?, decided_at = NULL, "
                "decided_by = '', note = '', outcome = '' WHERE id = ? AND status = ?",
                (RequestStatus.PENDING, entry.at, request_id, RequestStatus.APPROVED),
            )
            run("DELETE FROM removal_journal WHERE request_id = ?", (request_id,))
            self._audit(run, entry)
        return self.require(request_id)

    def journal(self) -> list[JournalEntry]:
        """Approvals decided and not yet applied to the lists (in flight, or crashed)."""
        rows = self.db.query(
            "SELECT request_id, ip, host, actor, started_at FROM removal_journal "
            "ORDER BY started_at"
        )
        return [JournalEntry(str(r), str(i), str(h), str(a), float(t)) for r, i, h, a, t in rows]

    def record(self, entry: AuditEntry) -> None:
        """An audit line outside a decision (a failed approval, say)."""
        with self.transaction() as run:
            self._audit(run, entry)

    def _enqueue(self, run: Any, entry: AuditEntry) -> None:
        if self.notify:
            run(ENQUEUE, enqueue_params(entry.request_id, entry.at))

    @staticmethod
    def _audit(run: Any, entry: AuditEntry) -> None:
        run(
            "INSERT INTO removal_audit (at, request_id, actor, action, note, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (entry.at, entry.request_id, entry.actor, entry.action, entry.note, entry.detail),
        )

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """Run several statements in one transaction; yields ``run(sql, params) -> cursor``.

        Raises:
            StoreError: a statement failed (the transaction is rolled back).
        """
        db = self.db

        def run(statement: str, params: Sequence[Any] = ()) -> Any:
            sql = statement.replace("?", "%s") if db.dialect == "postgresql" else statement
            try:
                return db.conn.execute(sql, params)
            except sqlite3.Error as err:
                raise StoreError(f"removal store: {err}") from err
            except Exception as err:
                if type(err).__module__.startswith("psycopg"):
                    raise StoreError(f"removal store: {err}") from err
                raise

        with db.lock, db.transaction():
            yield run


def _action(merged: bool) -> AuditAction:
    return AuditAction.MERGED if merged else AuditAction.SUBMITTED


def _request(row: Sequence[Any]) -> RemovalRequest:
    rid, ip, status, created, updated, lists, decided_at, decided_by, note, outcome, count = row
    return RemovalRequest(
        id=str(rid),
        ip=str(ip),
        status=RequestStatus(str(status)),
        created_at=float(created),
        updated_at=float(updated),
        lists=tuple(item for item in str(lists).split("\n") if item),
        requesters=int(count),
        decided_at=None if decided_at is None else float(decided_at),
        decided_by=str(decided_by),
        note=str(note),
        outcome=tuple(item for item in str(outcome).split("\n") if item),
    )


def open_store(cfg: Config) -> RemovalStore:
    """The removal store in the config's ``tracking_db``.

    Raises:
        ConfigError: no ``tracking_db`` is set.
        StoreError: the database cannot be opened.
    """
    if not cfg.tracking_db:
        raise ConfigError(
            "removal requests need a database and tracking_db is not set",
            path=str(cfg.path),
            fix='set tracking_db = "sqlite:///var/lib/oplguard/oplguard.db" at the top level',
        )
    return RemovalStore(Database(cfg.tracking_db), notify=cfg.web.notify.enabled)
