"""Concurrent removal decisions in real processes against one list file and one database.

Each scenario runs 50 rounds with long-lived worker processes (forked once,
each with its own ListStore and database connection, as web processes and
CLI runs have); a barrier releases them together, so every round is a real
race.  After each round the list file and the store must agree: no lost
edit, no request "approved" with its IP still listed, none "denied" with it
delisted, and every loser audited.
"""

from __future__ import annotations

import multiprocessing
import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from oplguard.config.model import ListConfig
from oplguard.lists.block import ListSnapshot, load_list
from oplguard.lists.edit import write_atomic
from oplguard.lists.store import ListStore
from oplguard.removals.model import AlreadyDecided, Contact
from oplguard.removals.review import decide
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import RequestStatus
from oplguard.storage.db import Database
from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.integration.postgres import fresh_postgres_db, postgres_url

pytestmark = pytest.mark.integration
__all__ = ["fresh_postgres_db", "postgres_url"]
ROUNDS = 50
WORKERS = 4
# Generous: a loaded 2-core machine; a stuck worker fails the test instead of hanging it.
RESULT_TIMEOUT_S = 60.0
CTX = multiprocessing.get_context("fork")
# Empty-loop iterations a denier spends before deciding: none to a few milliseconds.
SPINS = (0, 20_000, 60_000, 200_000)
SENTINELS = ("192.0.2.1", "192.0.2.2", "192.0.2.3")
# Even workers delist an address with a line of its own, odd ones one inside the /28.
TARGETS = ("192.0.2.10", "192.0.2.161", "192.0.2.11", "192.0.2.162")


def list_text() -> str:
    lines = ["# race test list"]
    lines += [f"{ip} sentinel" for ip in SENTINELS]
    lines += ["192.0.2.10 own line", "192.0.2.11 own line", "192.0.2.160/28 a range"]
    return "\n".join(lines) + "\n"


def _worker(conn: Connection, barrier: Barrier, db_url: str, path: Path, append_from: int) -> None:
    """One editor process: waits for a job, then races the others through the barrier."""
    store = RemovalStore(Database(db_url))
    lists = ListStore([ListConfig("opl", path, "open-proxy")], append_from_bytes=append_from)
    lists.load()
    while (job := conn.recv()) is not None:
        action, request_id, now, head_start = job
        barrier.wait(RESULT_TIMEOUT_S)
        for _ in range(head_start):  # let the others go first, by a few milliseconds of work
            pass
        try:
            request = decide(store, lists, action, request_id, note=action, actor=action, now=now)
            conn.send(("won", request.status))
        except AlreadyDecided as err:
            conn.send(("refused", str(err)))
        except Exception as err:  # reported to the parent, which fails the test
            conn.send(("error", repr(err)))
    store.db.close()


@dataclass
class Pool:
    """``size`` worker processes over one database and one list file."""

    db_url: str
    path: Path
    size: int
    append_from: int
    conns: list[Connection] | None = None
    procs: list[Any] | None = None

    def __enter__(self) -> Pool:
        barrier = CTX.Barrier(self.size)
        pairs = [CTX.Pipe() for _ in range(self.size)]
        self.conns = [parent for parent, _ in pairs]
        self.procs = [
            CTX.Process(
                target=_worker,
                args=(child, barrier, self.db_url, self.path, self.append_from),
                daemon=True,
            )
            for _, child in pairs
        ]
        for proc in self.procs:
            proc.start()
        return self

    def send(self, jobs: list[tuple[str, str, float, int]]) -> None:
        assert self.conns is not None
        for conn, job in zip(self.conns, jobs, strict=True):
            conn.send(job)

    def ready(self) -> bool:
        """Whether every worker has answered this round."""
        assert self.conns is not None
        return all(conn.poll(0) for conn in self.conns)

    def results(self) -> list[tuple[str, str]]:
        assert self.conns is not None
        found = []
        for conn in self.conns:
            assert conn.poll(RESULT_TIMEOUT_S), "a worker did not answer"
            found.append(conn.recv())
        assert all(kind != "error" for kind, _ in found), found
        return found

    def __exit__(self, *exc: object) -> None:
        assert self.conns is not None and self.procs is not None
        for conn in self.conns:
            conn.send(None)
        for proc in self.procs:
            proc.join(RESULT_TIMEOUT_S)
            if proc.is_alive():
                proc.kill()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[RemovalStore, Path]]:
    # Memory-backed files where there are (the races are the same, the fsyncs
    # of thousands of edits are not what these tests measure).
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path
    path = folder / "opl.txt"
    path.write_text(list_text())
    db = Database(f"sqlite:///{folder / 'removals.db'}")
    try:
        yield RemovalStore(db), path
    finally:
        db.close()
        if folder != tmp_path:
            shutil.rmtree(folder)


def listed_in_file(path: Path, *ips: str) -> list[str]:
    """Which of ``ips`` the list file, loaded fresh, lists."""
    block = load_list(ListConfig("opl", path, "open-proxy"))
    now = datetime.now(UTC)
    return [ip for ip in ips if block.lookup(ip, now) is not None]


def submit(store: RemovalStore, ip: str, at: float) -> str:
    contact = Contact("postmaster@example.net", "fixed", "192.0.2.200", at)
    return store.submit(ip, ["opl"], contact)[0].id


# Busy-loop iterations (about 20-40 ms) an editor waits before deciding, in the reload test.
RELOAD_HEAD_START = 1_000_000


@pytest.mark.parametrize("append_from", [1 << 30, 0], ids=["rewrite", "append"])
def test_concurrent_approvals_of_different_requests_lose_no_edit(
    setup: tuple[RemovalStore, Path], append_from: int
) -> None:
    store, path = setup
    with Pool(store.db.url, path, WORKERS, append_from) as pool:
        for round_number in range(ROUNDS):
            write_atomic(path, list_text().encode())
            now = 1e9 + round_number
            ids = [submit(store, ip, now) for ip in TARGETS]
            pool.send([("approve", rid, now, 0) for rid in ids])
            assert [kind for kind, _ in pool.results()] == ["won"] * WORKERS
            for rid in ids:
                request = store.require(rid)
                assert request.status == RequestStatus.APPROVED and request.outcome, request
            kept = (*SENTINELS, "192.0.2.160", "192.0.2.175")
            found = listed_in_file(path, *TARGETS, *kept)
            assert found == list(kept), f"round {round_number}: listed {found}, want {kept}"
            text = path.read_text()
            assert all(text.count(f"!{ip} ") <= 1 for ip in TARGETS), text
            assert store.journal() == []


def test_approve_against_deny_of_one_request_has_one_winner(
    setup: tuple[RemovalStore, Path],
) -> None:
    approve_against_deny(*setup)


def test_approve_against_deny_on_postgresql(
    setup: tuple[RemovalStore, Path], fresh_postgres_db: str
) -> None:
    """The same race on one PostgreSQL (a fleet's store): row locks instead of SQLite's."""
    store = RemovalStore(Database(fresh_postgres_db))
    try:
        approve_against_deny(store, setup[1])
    finally:
        store.db.close()


def approve_against_deny(store: RemovalStore, path: Path) -> None:
    actions = ["approve", "deny", "approve", "deny"]
    winners = {RequestStatus.APPROVED: 0, RequestStatus.DENIED: 0}
    rng = random.Random(ROUNDS)
    with Pool(store.db.url, path, len(actions), 1 << 30) as pool:
        for round_number in range(ROUNDS):
            write_atomic(path, list_text().encode())
            before = path.read_bytes()
            now = 2e9 + round_number
            ip = TARGETS[round_number % len(TARGETS)]
            rid = submit(store, ip, now)
            # A denial needs less work than an approval (no list lock, no edit):
            # seeded head starts for the approvals let both sides win some rounds.
            pool.send([(a, rid, now, 0 if a == "approve" else rng.choice(SPINS)) for a in actions])
            results = pool.results()
            won = [status for kind, status in results if kind == "won"]
            assert len(won) == 1, results
            request = store.require(rid)
            assert request.status == won[0]
            winners[request.status] += 1
            if request.status == RequestStatus.APPROVED:
                assert not listed_in_file(path, ip), f"round {round_number}: approved, still listed"
            else:
                assert path.read_bytes() == before, f"round {round_number}: denied, list changed"
            actions_seen = [entry.action for entry in store.audit(rid)]
            assert actions_seen.count(request.status) == 1, actions_seen
            refused = [a for a in actions_seen if a.endswith("-refused")]
            assert len(refused) == len(actions) - 1, actions_seen
    assert winners[RequestStatus.APPROVED] and winners[RequestStatus.DENIED], (
        f"one side never won: {winners}"
    )


@pytest.mark.parametrize("append_from", [1 << 30, 0], ids=["rewrite", "append"])
def test_approvals_while_the_scoring_service_reloads(
    setup: tuple[RemovalStore, Path], write_config: ConfigWriter, tmp_path: Path, append_from: int
) -> None:
    """The service reloads in a loop (SIGHUP's full reload, and its poll's, which follows an
    appended tail) for as long as the approvals run; no reload may fail or list what was approved.
    """
    store, _ = setup
    config = write_config()
    path = tmp_path / "lists" / "opl.txt"  # the scoring service's list
    targets = [f"198.51.100.{n}" for n in range(1, 2 * ROUNDS + 1)]
    path.write_text(list_text() + "".join(f"{ip} zombie\n" for ip in targets))
    # Fork the editors before the scoring service's threads exist.
    with Pool(store.db.url, path, 2, append_from) as pool, RunningServer(config) as scorer:
        done: list[str] = []
        reloads = 0
        for round_number in range(ROUNDS):
            now = 3e9 + round_number
            pair = targets[2 * round_number : 2 * round_number + 2]
            ids = [submit(store, ip, now) for ip in pair]
            # The editors wait a few tens of milliseconds first: an append is so quick that
            # without it a round can end before the first reload starts.
            pool.send([("approve", rid, now, RELOAD_HEAD_START) for rid in ids])
            while not pool.ready():
                assert scorer.reload(), "a full reload read a broken list file"
                assert scorer.server.lists.reload() == [], "a polled reload failed"
                reloads += 1
            assert [kind for kind, _ in pool.results()] == ["won", "won"]
            done += pair
            assert scorer.server.lists.reload() == []
            for view in (scorer.server.lists.snapshot, load_snapshot(path)):
                still = [ip for ip in done if view.lookup(ip)]
                assert not still, f"round {round_number}: approved but listed: {still}"
                assert all(view.lookup(ip) for ip in SENTINELS)
    assert reloads >= ROUNDS, "the service hardly reloaded while the approvals ran"


def load_snapshot(path: Path) -> ListSnapshot:
    return ListSnapshot((load_list(ListConfig("opl", path, "open-proxy")),))
