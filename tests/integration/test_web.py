"""oplguard web end to end: real nsd for PTR, real uvicorn, the CLI, and the scoring service.

The full story of issue 5: look up a listed IP (reason, reverse DNS from a
real authoritative server), file a removal, approve it with ``oplguard
removals approve`` in another process, see the status page change, and see
the running ``oplguard serve`` stop flagging the IP without a restart.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from oplguard.cli import main
from oplguard.removals.model import AuditEntry, Contact, ReviewError
from oplguard.removals.notify import notices
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import DeliveryStatus, RequestStatus
from oplguard.storage.db import Database
from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.integration.postgres import fresh_postgres_db, postgres_url
from tests.integration.web_harness import RunningWeb, nsd, write_web_config
from tests.samples import message

pytestmark = pytest.mark.integration
__all__ = ["fresh_postgres_db", "postgres_url"]
IO_TIMEOUT_S = 15.0
BODY = {"ip": "192.0.2.99", "email": "postmaster@example.net", "explanation": "proxy closed"}


@pytest.fixture(scope="module")
def dns_server() -> Iterator[str]:
    with nsd() as address:
        yield address


def oplguard(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oplguard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def spamd_check(port: int, body: bytes) -> bytes:
    request = b"CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(body) + body
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: sock.recv(65536), b""))


@pytest.mark.parametrize(
    ("ip", "status", "confirmed", "generic"),
    [
        ("192.0.2.99", "present", True, None),
        ("192.0.2.137", "present", True, ("ip-digits", "192-0-2-137")),
        ("203.0.113.66", "missing", None, None),
        ("192.0.2.10", "present", False, None),
        ("2001:db8:c0de:2::17", "present", True, None),
    ],
    ids=["confirmed", "generic", "no-ptr", "not-confirmed", "ipv6"],
)
def test_reverse_dns_from_a_real_nameserver(
    write_config: ConfigWriter,
    tmp_path: Path,
    dns_server: str,
    ip: str,
    status: str,
    confirmed: bool | None,
    generic: tuple[str, str] | None,
) -> None:
    config = write_web_config(write_config, tmp_path, dns=dns_server, dns_timeout_s=5)
    with RunningWeb(config) as web:
        rdns = httpx.get(f"{web.url}/api/v1/ip/{ip}", timeout=IO_TIMEOUT_S).json()["reverse_dns"]
        page = httpx.get(f"{web.url}/lookup", params={"ip": ip}, timeout=IO_TIMEOUT_S).text
    assert (rdns["status"], rdns["forward_confirmed"]) == (status, confirmed)
    found = rdns["generic"]
    assert (found["kind"], found["pattern"]) == generic if generic else found is None
    if generic:
        assert "the address digits <code>192-0-2-137</code>" in " ".join(page.split())
    if status == "missing":
        assert "PTR record: missing" in page and "Add a PTR record" in page


def test_approve_from_the_cli_delists_in_the_running_scoring_service(
    write_config: ConfigWriter, tmp_path: Path, dns_server: str
) -> None:
    config = write_web_config(write_config, tmp_path, dns=dns_server)
    listed = message("listed-connecting.eml")  # connecting relay 192.0.2.99
    with RunningServer(config) as scorer, RunningWeb(config) as web:
        port = scorer.address()[1]
        assert b"Spam: True" in spamd_check(port, listed)
        request = httpx.post(f"{web.url}/api/v1/removals", json=BODY, timeout=IO_TIMEOUT_S).json()
        done = oplguard("removals", "approve", request["id"], "--note", "fixed, thanks",
                        "--config", str(config))  # fmt: skip
        assert "removed 192.0.2.99 from opl" in done.stdout
        status = httpx.get(f"{web.url}/removals/{request['id']}", timeout=IO_TIMEOUT_S).text
        assert 'class="status-approved">approved' in status and "fixed, thanks" in status
        deadline = time.monotonic() + IO_TIMEOUT_S
        while b"Spam: True" in (reply := spamd_check(port, listed)):
            assert time.monotonic() < deadline, "the scoring service still flags 192.0.2.99"
            time.sleep(0.2)
        assert b"Spam: False" in reply
        lookup = httpx.get(f"{web.url}/api/v1/ip/192.0.2.99", timeout=IO_TIMEOUT_S).json()
        assert not lookup["listed"]  # the web process picked the file change up too


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``oplguard ARGS`` in this process (fast); the e2e test runs the real command."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_removals_cli_list_show_deny_and_errors(
    write_config: ConfigWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_web_config(write_config, tmp_path))
    with RunningWeb(Path(config)) as web:
        request = httpx.post(f"{web.url}/api/v1/removals", json=BODY, timeout=IO_TIMEOUT_S).json()
    _, listing, _ = run_cli(capsys, "removals", "list", "--config", config)
    assert request["id"] in listing and "pending" in listing
    _, show, _ = run_cli(capsys, "removals", "show", request["id"], "--config", config)
    assert "postmaster@example.net" in show and "proxy closed" in show
    args = ("removals", "deny", request["id"], "--note", "still open", "--config", config)
    code, denied, _ = run_cli(capsys, *args)
    assert code == 0 and "status:   denied" in denied and "note:     still open" in denied
    code, _, err = run_cli(capsys, "removals", "approve", request["id"], "--config", config)
    assert code == 65 and "already denied" in err
    code, _, err = run_cli(capsys, "removals", "show", "aaaaaaaaaaaaaaaa", "--config", config)
    assert code == 65 and "no removal request" in err
    _, audit, _ = run_cli(capsys, "removals", "show", request["id"], "--json", "--config", config)
    assert '"action": "denied"' in audit and '"actor": "cli:' in audit


def test_web_cli_serves_and_stops_on_sigterm(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_web_config(write_config, tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "oplguard", "web", "--config", str(config),
         "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + IO_TIMEOUT_S
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
                time.sleep(0.1)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(IO_TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_web_cli_config_errors_exit_78(
    write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    no_db = write_config(extra='\n[web]\nlisten = "127.0.0.1:0"\n')
    code, _, err = run_cli(capsys, "web", "--config", str(no_db))
    assert code == 78 and "tracking_db is not set" in err
    code, _, err = run_cli(capsys, "removals", "list", "--config", str(no_db))
    assert code == 78 and "tracking_db is not set" in err
    bad = write_config(extra='\n[web]\nlisten = "nowhere"\n', name="bad.toml")
    code, _, err = run_cli(capsys, "web", "--config", str(bad))
    assert code == 78 and "bad.toml:" in err and "fix:" in err
    code, _, err = run_cli(capsys, "web", "--config", str(no_db), "--listen", "unix:/tmp/x")
    assert code == 78 and "HOST:PORT" in err


def test_store_on_postgresql(fresh_postgres_db: str) -> None:
    """The same store on a real PostgreSQL: merge by the partial unique index, decide once."""
    store = RemovalStore(Database(fresh_postgres_db))
    other = RemovalStore(Database(fresh_postgres_db))  # a second web process
    try:
        _store_story(store, other)
    finally:
        store.db.close()
        other.db.close()


def _store_story(store: RemovalStore, other: RemovalStore) -> None:
    approved = RequestStatus.APPROVED
    first, merged = store.submit("192.0.2.99", ["opl"], Contact("a@example.net", "x", "c1", 1.0))
    second, merged_again = other.submit(
        "192.0.2.99", ["opl"], Contact("b@example.net", "y", "c2", 2.0)
    )
    assert (merged, merged_again, second.id, second.requesters) == (False, True, first.id, 2)
    store.decide(first.id, approved, AuditEntry(3.0, first.id, "cli:t", approved, "ok"))
    with pytest.raises(ReviewError, match="not pending"):
        other.decide(first.id, approved, AuditEntry(4.0, first.id, "cli:t", approved))
    assert [e.action for e in other.audit(first.id)] == ["submitted", "merged", approved]
    assert store.submissions_since(client="c2", since=0.0) == 1


def test_postgresql_stores_the_words_not_the_enum_names(fresh_postgres_db: str) -> None:
    """psycopg adapts a StrEnum member as its value (``pending``), not its name (``PENDING``):
    the partial unique index and every query compare with the words."""
    store = RemovalStore(Database(fresh_postgres_db), notify=True)
    try:
        request, _ = store.submit("192.0.2.99", ["opl"], Contact("a@example.net", "x", "c1", 1.0))
        assert store.db.query("SELECT status FROM removal_requests") == [("pending",)]
        entry = AuditEntry(2.0, request.id, "cli:t", RequestStatus.DENIED, "no")
        store.decide(request.id, RequestStatus.DENIED, entry)
        assert store.db.query("SELECT status FROM removal_requests") == [("denied",)]
        assert store.db.query("SELECT action FROM removal_audit ORDER BY at") == [
            ("submitted",),
            ("denied",),
        ]
        assert store.db.query("SELECT status FROM removal_notices") == [("pending",)]
        assert store.require(request.id).status is RequestStatus.DENIED
        assert [n.status for n in notices(store)] == [DeliveryStatus.PENDING]
    finally:
        store.db.close()
