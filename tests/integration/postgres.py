"""A throwaway real PostgreSQL cluster for tests: initdb + pg_ctl on 127.0.0.1, a free port.

Use the ``postgres_url`` fixture (session scope: one cluster per test run) and
``fresh_postgres_db`` (a new empty database per test).  PostgreSQL refuses to
run as root, so when the tests run as root the cluster runs as the ``postgres``
system user (``runuser``); otherwise as the current user.  Skips with a clear
reason when PostgreSQL or psycopg is missing (``scripts/bootstrap.sh --test``
installs both).  Register them in a conftest with
``from tests.integration.postgres import postgres_url, fresh_postgres_db``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# initdb plus a first start take a few seconds on a loaded 2-core machine.
START_TIMEOUT_S = 60
START_ATTEMPTS = 10


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL server bin directory (Debian layout)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _runner() -> list[str]:
    """The prefix that runs a command as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT/postgres`` of a cluster started for this run."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install oplguard[test])")
    bindir = pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (scripts/bootstrap.sh --test installs it as root)")
    run_as = _runner()
    # Not under pytest's tmp dir: it is root-only (0700) and postgres must reach its files.
    base = Path(tempfile.mkdtemp(prefix="oplguard-pg-"))
    data = base / "data"
    if run_as:
        shutil.chown(base, "postgres")
    port = free_port()

    def pg(*argv: str) -> None:
        done = subprocess.run(
            [*run_as, *argv], capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}")

    pg(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
    pg(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(base / "log"),
        "-w",
        "-t",
        str(START_TIMEOUT_S),
        "start",
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fresh_postgres_db(postgres_url: str) -> Iterator[str]:
    """The URL of a new empty database in the session's cluster, dropped afterwards."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Cluster:
    """A PostgreSQL cluster of a test's own, to stop, kill and start again (fault tests).

    ``start`` runs initdb the first time; ``stop`` is ``pg_ctl stop -m fast`` (clients are
    disconnected, the server shuts down cleanly); ``kill`` sends SIGKILL to the postmaster
    (the next ``start`` runs crash recovery).
    """

    def __init__(self) -> None:
        pytest.importorskip(
            "psycopg", reason="psycopg is not installed (pip install oplguard[test])"
        )
        bindir = pg_bin()
        if bindir is None:
            pytest.skip("PostgreSQL is not installed (scripts/bootstrap.sh --test installs it)")
        self.bindir = bindir
        self.run_as = _runner()
        self.base = Path(tempfile.mkdtemp(prefix="oplguard-pgf-"))
        self.data = self.base / "data"
        if self.run_as:
            shutil.chown(self.base, "postgres")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, *argv: str) -> None:
        done = subprocess.run(
            [*self.run_as, *argv], capture_output=True, text=True, timeout=START_TIMEOUT_S
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        if not self.data.exists():
            self._pg(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                     "--auth=trust", "-E", "UTF8")  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync=off"
        for attempt in range(START_ATTEMPTS):
            try:
                self._pg(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                         "-l", str(self.base / "log"), "-w", "-t", str(START_TIMEOUT_S),
                         "start")  # fmt: skip
                return
            except RuntimeError:
                # After a kill the old backends hold the shared memory until they notice.
                if attempt == START_ATTEMPTS - 1:
                    raise
                time.sleep(1.0)

    def stop(self, mode: str = "fast") -> None:
        self._pg(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def kill(self) -> None:
        """SIGKILL the postmaster and wait until its port is closed."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 9)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
            except OSError:
                break
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
             "stop"], capture_output=True, timeout=START_TIMEOUT_S, check=False,
        )  # fmt: skip
        shutil.rmtree(self.base, ignore_errors=True)
