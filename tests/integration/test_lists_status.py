"""``oplguard lists status`` against a running service: entries, a broken list
file (last good version keeps serving), and a DNS list whose server dies
(probes get no answer, the circuit breaker says it is unreachable)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ConfigWriter
from tests.integration.dns import opl_dns_tables, rbldnsd
from tests.integration.harness import RunningServer
from tests.integration.load import LISTED, check_request

pytestmark = pytest.mark.integration
DEADLINE_S = 30.0
ZONES = {"opl4.zone": ("opl.test:ip4set", ":127.0.0.2:Open proxy\n192.0.2.99\n127.0.0.2\n")}


def oplguard(*args: str) -> bytes:
    command = [str(Path(sys.executable).with_name("oplguard")), *args]
    return subprocess.run(command, capture_output=True, timeout=DEADLINE_S, check=True).stdout


def status(config: Path) -> list[dict[str, Any]]:
    """The rows; the command exits 65 exactly while a list file is in error."""
    command = [str(Path(sys.executable).with_name("oplguard")), "lists", "status", "--json"]
    done = subprocess.run(
        [*command, "--config", str(config)], capture_output=True, timeout=DEADLINE_S, check=False
    )
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    in_error = any(r["state"] in ("error", "missing") for r in rows)
    assert done.returncode == (65 if in_error else 0), done.stderr
    return rows


def row(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in rows if r["name"] == name)


def wait_for(config: Path, name: str, key: str, value: object) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        current = row(status(config), name)
        if current[key] == value:
            return current
        assert time.monotonic() < deadline, f"{name}.{key} never became {value!r}: {current}"
        time.sleep(0.3)


def test_lists_status_shows_entries_errors_and_dns_health(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    import socket

    with rbldnsd(ZONES) as dns_port:
        # control_socket must be a top-level key: put it before the first table.
        cfg = write_config(
            top=f'control_socket = "{tmp_path / "control.sock"}"',
            extra=opl_dns_tables(dns_port),
            server="list_probe_interval_s = 0.5",
        )
        server = RunningServer(cfg).__enter__()
    try:
        rows = status(cfg)
        opl = row(rows, "opl")
        assert (opl["kind"], opl["state"], opl["error"]) == ("file", "loaded", None)
        assert opl["entries"] > 10
        # Load time and size of each file.
        assert opl["file_bytes"] == (tmp_path / "lists" / "opl.txt").stat().st_size
        assert 0 < opl["load_s"] < DEADLINE_S
        text = oplguard("lists", "status", "--config", str(cfg)).decode()
        assert f"from {opl['file_bytes'] / 1024:.1f} KiB in {opl['load_s']:.1f} s" in text
        # rbldnsd is gone: the probes get no answer and the breaker says the list is
        # unreachable, with the real reason (not "127.0.0.2 not listed": nothing answered).
        dns = wait_for(cfg, "opl-dns", "state", "unreachable")
        assert "no answer to 3 queries in a row" in dns["reason"]
        assert "not listed" not in dns["reason"]
        assert dns["since"] is not None
        # A list file turns bad: the last good version keeps serving, status says why.
        (tmp_path / "lists" / "opl.txt").write_text("192.0.2.99\nthis is not an address\n")
        bad = wait_for(cfg, "opl", "state", "error")
        assert "opl.txt:2" in bad["error"]
        assert bad["entries"] == opl["entries"]
        counters = json.loads(oplguard("status", "--json", "--config", str(cfg)))["counters"]
        assert counters["oplguard_reloads"]["failed"] >= 1
        with socket.create_connection(server.address(), timeout=DEADLINE_S) as sock:
            sock.sendall(check_request(LISTED))
            sock.shutdown(socket.SHUT_WR)
            reply = sock.recv(65536)
        assert reply.startswith(b"SPAMD/1.1 0 EX_OK\r\nSpam: True")
        # That message's DNS lookup was answered by the open breaker, not sent.
        assert row(status(cfg), "opl-dns")["skipped"] >= 1
    finally:
        server.__exit__(None, None, None)


def test_lists_status_without_a_running_service_exits_69(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    cfg = write_config(top=f'control_socket = "{tmp_path / "nobody.sock"}"')
    command = [str(Path(sys.executable).with_name("oplguard")), "lists", "status"]
    done = subprocess.run(
        [*command, "--config", str(cfg)], capture_output=True, timeout=DEADLINE_S, check=False
    )
    assert done.returncode == 69
    assert b"lists status" in done.stderr
