"""The shared store: SQLite by default, PostgreSQL for a fleet.

One small adapter so tracking records and removal requests live in the same
database, selected by one URL: ``sqlite:///var/lib/oplguard/oplguard.db``
(or a bare path) or ``postgresql://user:pass@host/db``.  Blocking: callers
on the event loop go through ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oplguard.errors import OplguardError

# SQLite waits this long for a lock held by another process before failing.
SQLITE_BUSY_TIMEOUT_S = 5.0
# Between tries to switch a database another process is switching to WAL.
SQLITE_OPEN_RETRY_S = 0.01
_QMARK = re.compile(r"\?")
# Bound parameters per statement: SQLite's limit before 3.32 (32766 since).
SQLITE_MAX_VARIABLES = 999
# A PostgreSQL that vanishes without a FIN (host down, network cut) must not hang the
# writer: unacknowledged data fails after 30 s, an idle connection is probed every 10 s
# after 30 s (libpq's tcp_user_timeout and keepalives; the URL may set its own).
PG_KEEPALIVE: dict[str, Any] = {
    "tcp_user_timeout": 30_000,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


class StoreError(OplguardError):
    """The database cannot be opened or a statement failed."""


class Database:
    """A connection with ``?`` placeholders on both engines."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self.dialect = (
            "postgresql" if url.startswith(("postgresql://", "postgres://")) else "sqlite"
        )
        try:
            self.conn: Any = (
                self._connect_pg(url) if self.dialect == "postgresql" else self._connect_sqlite(url)
            )
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"cannot open database {safe_url(url)}: {err}") from err

    @staticmethod
    def _connect_sqlite(url: str) -> sqlite3.Connection:
        path = (
            url.removeprefix("sqlite://").removeprefix("/") if url.startswith("sqlite://") else url
        )
        if url.startswith("sqlite:///"):
            path = "/" + url.removeprefix("sqlite:///")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _create_owner_only(path)
        conn = sqlite3.connect(
            path, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
        )
        _use_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @staticmethod
    def _connect_pg(url: str) -> Any:
        try:
            import psycopg
        except ImportError as err:
            raise StoreError(
                "PostgreSQL needs the psycopg package: pip install 'psycopg[binary]'"
            ) from err
        try:
            given = psycopg.conninfo.conninfo_to_dict(url)
            keepalive = {key: value for key, value in PG_KEEPALIVE.items() if key not in given}
            return psycopg.connect(url, autocommit=True, **{"connect_timeout": 5, **keepalive})
        except psycopg.Error as err:
            raise StoreError(f"cannot connect to {safe_url(url)}: {err}") from err

    def _sql(self, statement: str) -> str:
        return _QMARK.sub("%s", statement) if self.dialect == "postgresql" else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        with self.lock:
            self._run(lambda: self.conn.execute(self._sql(statement), params))

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """All rows in one transaction: a crash leaves all or none of them."""
        with self.lock, self._errors(), self.transaction():
            cursor = self.conn.cursor()
            self._run(lambda: cursor.executemany(self._sql(statement), rows))

    def write_all(self, batches: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """Several statements' rows in one transaction: all of them or none survive a crash."""
        with self.lock, self._errors(), self.transaction():
            cursor = self.conn.cursor()
            for statement, rows in batches:
                if rows:
                    self._run(lambda s=statement, r=rows: cursor.executemany(self._sql(s), r))

    def write_batch(
        self,
        claim: tuple[str, Sequence[Any]],
        tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]],
    ) -> bool:
        """Claim a batch and write its rows, all in one transaction.

        ``claim`` is an ``INSERT ... ON CONFLICT DO NOTHING`` of the batch's id: when
        it inserts nothing, the batch was committed before (a retry after a lost
        COMMIT acknowledgement) and nothing is written again; returns False then.
        ``tables`` are (table, columns, rows): prepared multi-row ``INSERT`` statements on
        SQLite, ``COPY ... FROM STDIN`` on PostgreSQL.
        """
        with self.lock, self._errors(), self.transaction():
            cursor = self.conn.cursor()
            self._run(lambda: cursor.execute(self._sql(claim[0]), claim[1]))
            if cursor.rowcount == 0:
                return False
            for table, columns, rows in tables:
                if rows:
                    self._run(lambda t=table, c=columns, r=rows: self._insert(cursor, t, c, r))
        return True

    def _insert(
        self, cursor: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if self.dialect == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        # Many rows a statement: SQLite releases the GIL for each step, and every release
        # lets the event loop's thread in, so one step per row costs two thread switches.
        per_statement = max(1, SQLITE_MAX_VARIABLES // len(columns))
        row_marks = "(" + ", ".join("?" for _ in columns) + ")"
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = [value for row in chunk for value in row]
            cursor.execute(head + ", ".join(row_marks for _ in chunk), values)

    def create_schema(self, statements: Sequence[str]) -> None:
        """Run ``CREATE ... IF NOT EXISTS`` statements once, whoever else starts now.

        PostgreSQL's IF NOT EXISTS is not safe against a concurrent creator (a
        service and a CLI starting together fail with a unique violation on
        pg_class), so creators queue on one advisory lock inside a transaction.
        """
        with self.lock, self._errors(), self.transaction():
            if self.dialect == "postgresql":
                self._run(lambda: self.conn.execute("SELECT pg_advisory_xact_lock(7830783)"))
            for statement in statements:
                self._run(lambda s=statement: self.conn.execute(self._sql(s)))

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            rows: list[tuple[Any, ...]] = self._run(
                lambda: self.conn.execute(self._sql(statement), params).fetchall()
            )
            return [tuple(row) for row in rows]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.dialect == "postgresql":
            with self.conn.transaction():
                yield
            return
        # IMMEDIATE: the write lock is taken (waiting up to the busy timeout) before the
        # first read. A deferred BEGIN that reads and then writes fails at once with
        # "database is locked" whenever another process wrote in between.
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            # SQLite has already rolled back after some errors (SQLITE_FULL).
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """A driver error anywhere in a transaction (BEGIN, COMMIT, a lost connection)
        as a StoreError."""
        try:
            yield
        except Exception as err:
            if isinstance(err, sqlite3.Error) or type(err).__module__.startswith("psycopg"):
                raise StoreError(f"database error on {safe_url(self.url)}: {err}") from err
            raise

    def _run(self, call: Any) -> Any:
        try:
            return call()
        except Exception as err:
            if isinstance(err, sqlite3.Error) or type(err).__module__.startswith("psycopg"):
                raise StoreError(f"database error on {safe_url(self.url)}: {err}") from err
            raise

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode, waiting for other openers as a busy lock would.

    Turning a new database into WAL takes an exclusive lock, and SQLite answers a
    second process converting at the same moment (a CLI opening the file the
    service is creating) with "database is locked" at once, not after its busy
    timeout; so that answer is retried here for up to the same timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            # The primary code: SQLITE_BUSY_RECOVERY and the like are busy too.
            busy = err.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(SQLITE_OPEN_RETRY_S)


def _create_owner_only(path: str) -> None:
    """Create a new database file mode 0600 whatever the umask (it holds e-mail
    addresses and verdicts); SQLite gives its -wal and -shm files the same mode.
    An existing file keeps the mode its owner chose."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        return
    os.chmod(path, 0o600)  # O_CREAT's mode is masked by the umask only to remove bits
