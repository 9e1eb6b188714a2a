"""The tracking tables on SQLite or PostgreSQL: schema, batch insert, search, retention.

Blocking; only the writer thread and the ``track`` command call it.  Every
record names its host, so a fleet can share one PostgreSQL database.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oplguard.storage.db import Database, StoreError
from oplguard.tracking.record import COLUMNS, TrackRecord

log = logging.getLogger("oplguard.tracking")

# Column types per dialect; everything else in the schema is shared SQL.
_TYPES = {
    "sqlite": {"real": "REAL", "int": "INTEGER"},
    "postgresql": {"real": "DOUBLE PRECISION", "int": "INTEGER"},
}
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS oplguard_messages (
        record_id TEXT PRIMARY KEY, at {real} NOT NULL, host TEXT NOT NULL,
        message_id TEXT NOT NULL, queue_id TEXT NOT NULL, sender TEXT NOT NULL,
        header_from TEXT NOT NULL, connecting_ip TEXT NOT NULL, action TEXT NOT NULL,
        score {real} NOT NULL, required_score {real} NOT NULL, offending_ip TEXT NOT NULL,
        offending_hop {int} NOT NULL, offending_list TEXT NOT NULL, reason TEXT NOT NULL,
        detail TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS oplguard_message_ips (
        record_id TEXT NOT NULL, ip TEXT NOT NULL, hop {int} NOT NULL, result TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS oplguard_messages_at ON oplguard_messages (at)",
    "CREATE INDEX IF NOT EXISTS oplguard_messages_mid ON oplguard_messages (message_id)",
    "CREATE INDEX IF NOT EXISTS oplguard_message_ips_ip ON oplguard_message_ips (ip)",
    "CREATE INDEX IF NOT EXISTS oplguard_message_ips_rid ON oplguard_message_ips (record_id)",
    # One row per committed batch: a retried batch finds its id and writes nothing twice.
    """CREATE TABLE IF NOT EXISTS oplguard_batches (
        batch_id TEXT PRIMARY KEY, at {real} NOT NULL, records {int} NOT NULL)""",
)
_CLAIM = (
    "INSERT INTO oplguard_batches (batch_id, at, records) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
IP_COLUMNS = ("record_id", "ip", "hop", "result")
# Batch ids outlive any retry of their batch by far (retries stop when the queue is dropped).
BATCH_MEMORY_S = 7 * 86400.0
# The most rows `oplguard track` prints unless told otherwise.
DEFAULT_QUERY_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Batch:
    """The rows of one batch, made once and kept for its retries."""

    batch_id: str
    at: float
    messages: list[tuple[Any, ...]]
    ips: list[tuple[str, str, int, str]]


def batch_rows(batch_id: str, records: Sequence[TrackRecord]) -> Batch:
    """The table rows of ``records``: record ids ``<batch_id>.<n>``, detail as JSON."""
    messages: list[tuple[Any, ...]] = []
    ips: list[tuple[str, str, int, str]] = []
    for n, record in enumerate(records):
        record_id = f"{batch_id}.{n}"
        messages.append(record.row(record_id))
        ips += record.ip_rows(record_id)
    return Batch(batch_id, time.time(), messages, ips)


@dataclass(frozen=True, slots=True)
class Filter:
    """What ``oplguard track`` asks for; empty fields match everything."""

    message_id: str = ""
    ip: str = ""
    action: str = ""
    host: str = ""
    since: float = 0.0
    limit: int = DEFAULT_QUERY_LIMIT
    sender: str = ""  # envelope sender or From; "@domain" for a whole domain
    recipient: str = ""  # spamd user or To/Cc; "@domain" for a whole domain
    queue_id: str = ""


def _like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def address_clauses(where: Filter) -> list[tuple[str, list[Any]]]:
    """``--sender`` (envelope or From) and ``--recipient`` (``detail.recipients``) clauses;
    ``@domain`` matches the whole domain.  Addresses are stored lower case."""
    out: list[tuple[str, list[Any]]] = []
    sender = where.sender.strip().lower()
    if sender.startswith("@"):
        pattern = "%" + _like(sender)
        out.append(("(sender LIKE ? ESCAPE '\\' OR header_from LIKE ? ESCAPE '\\')", [pattern] * 2))
    elif sender:
        out.append(("(sender = ? OR header_from = ?)", [sender, sender]))
    recipient = where.recipient.strip().lower()
    if recipient:  # a JSON string in detail.recipients: "addr" or "...@domain"
        quoted = (
            f'%{_like(recipient)}"%' if recipient.startswith("@") else f'%"{_like(recipient)}"%'
        )
        out.append(("detail LIKE ? ESCAPE '\\'", [quoted]))
    return out


def _has_address(recipients: list[str], where: Filter) -> bool:
    wanted = where.recipient.strip().lower()
    if wanted.startswith("@"):
        return any(r.endswith(wanted) for r in recipients)
    return wanted in recipients


class TrackingStore:
    """The tracking tables in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, url: str) -> TrackingStore:
        """Open (and create the tables of) the database at ``url``.

        Raises:
            StoreError: it cannot be opened or the schema cannot be created.
        """
        store = cls(Database(url))
        try:
            store.create()
        except StoreError:
            store.close()
            raise
        return store

    def create(self) -> None:
        types = _TYPES[self.db.dialect]
        self.db.create_schema([statement.format(**types) for statement in _SCHEMA])

    def insert(self, records: Sequence[TrackRecord], batch_id: str = "") -> bool:
        """Write ``records`` in one transaction, as batch ``batch_id`` (record ids
        ``<batch_id>.<n>``); a random id when none is given.

        Returns False, writing nothing, when that batch was committed before.

        Raises:
            StoreError: locked, full, or unreachable; nothing of the batch was written.
        """
        return self.write(batch_rows(batch_id or uuid.uuid4().hex, records))

    def write(self, batch: Batch) -> bool:
        """Write a batch made by ``batch_rows``; False if it was committed before.

        Raises:
            StoreError: locked, full, or unreachable; nothing of the batch was written.
        """
        return self.db.write_batch(
            (_CLAIM, (batch.batch_id, batch.at, len(batch.messages))),
            (
                ("oplguard_messages", COLUMNS, batch.messages),
                ("oplguard_message_ips", IP_COLUMNS, batch.ips),
            ),
        )

    def search(self, where: Filter) -> list[dict[str, Any]]:
        """Matching records, newest first, each with its relay IPs.

        Raises:
            StoreError: the database cannot be read.
        """
        clauses, params = self._clauses(where)
        sql = f"SELECT {', '.join(COLUMNS)} FROM oplguard_messages"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY at DESC LIMIT ?"
        rows = self.db.query(sql, [*params, where.limit])
        found = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
        for item in found:
            item["detail"] = json.loads(item["detail"])
        if where.recipient:  # the LIKE on the JSON text narrowed it; this is exact
            found = [r for r in found if _has_address(r["detail"].get("recipients", []), where)]
        return found

    @staticmethod
    def _clauses(where: Filter) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        pairs = (
            ("action = ?", where.action),
            ("host = ?", where.host),
            ("queue_id = ?", where.queue_id),
        )
        if where.message_id:  # stored as written, mostly <id>; typed with or without <>
            bare = where.message_id.strip().removeprefix("<").removesuffix(">")
            clauses.append("message_id IN (?, ?)")
            params += [f"<{bare}>", bare]
        for clause, values in address_clauses(where):
            clauses.append(clause)
            params += values
        for clause, value in pairs:
            if value:
                clauses.append(clause)
                params.append(value)
        if where.ip:
            clauses.append("record_id IN (SELECT record_id FROM oplguard_message_ips WHERE ip = ?)")
            params.append(where.ip)
        if where.since:
            clauses.append("at >= ?")
            params.append(where.since)
        return clauses, params

    def prune(self, older_than: float, keep_rows: int) -> int:
        """Delete records before ``older_than`` (epoch) and beyond the newest ``keep_rows``.

        Returns the number of messages deleted.

        Raises:
            StoreError: the database cannot be written.
        """
        removed = 0
        if older_than > 0:
            removed += self._delete("at < ?", [older_than])
        if keep_rows > 0:
            rows = self.db.query(
                "SELECT at FROM oplguard_messages ORDER BY at DESC LIMIT 1 OFFSET ?", [keep_rows]
            )
            if rows:
                removed += self._delete("at <= ?", [rows[0][0]])
        self.db.execute("DELETE FROM oplguard_batches WHERE at < ?", [time.time() - BATCH_MEMORY_S])
        return removed

    def _delete(self, condition: str, params: list[Any]) -> int:
        found = self.db.query(f"SELECT COUNT(*) FROM oplguard_messages WHERE {condition}", params)
        self.db.write_all(
            [
                (
                    "DELETE FROM oplguard_message_ips WHERE record_id IN "
                    f"(SELECT record_id FROM oplguard_messages WHERE {condition})",
                    [params],
                ),
                (f"DELETE FROM oplguard_messages WHERE {condition}", [params]),
            ]
        )
        return int(found[0][0])

    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) FROM oplguard_messages")[0][0])

    def close(self) -> None:
        self.db.close()
