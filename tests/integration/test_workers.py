"""``[server] workers = N``: pre-forked workers share the listeners (server/workers.py).

Real ``oplguard serve`` processes and the real ``spamc``; the worker count is
read from /proc (children of the serve process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from oplguard.control.client import ControlError, ask
from oplguard.control.relay import worker_socket
from tests.conftest import ConfigWriter
from tests.integration.harness import need
from tests.integration.load import run_load
from tests.integration.service_process import oplguard, wait_for

MESSAGES = Path(__file__).parents[1] / "data" / "messages"
# Generous for a loaded 2-core machine; polling only, never asserted as a time.
DEADLINE_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children(pid: int) -> list[int]:
    """Live (not zombie) child processes of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                found.append(int(entry.name))
    return found


def spamc_check(spamc: str, target: str, message: Path) -> str:
    option = ["-U", target] if target.startswith("/") else ["-d", "127.0.0.1", "-p", target]
    done = subprocess.run(
        [spamc, *option, "-c"], input=message.read_bytes(), capture_output=True, timeout=30
    )
    return done.stdout.decode().strip()


def wait_answering(spamc: str, target: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "oplguard serve exited"
        if spamc_check(spamc, target, MESSAGES / "clean.eml") not in ("", "0/0"):
            return
        time.sleep(0.2)
    raise AssertionError("oplguard serve did not answer")


@contextlib.contextmanager
def serving(config: Path, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``oplguard serve`` as a real process, its output in ``log_path``; killed if still up."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "oplguard", "serve", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_two_workers_answer_on_tcp_and_unix(write_config: ConfigWriter, tmp_path: Path) -> None:
    spamc = need("spamc")
    port = free_port()
    sock_path = tmp_path / "spamd.sock"
    config = write_config(server=f'listen = ["127.0.0.1:{port}", "unix:{sock_path}"]\nworkers = 2')
    with serving(config, tmp_path / "serve.log") as proc:
        wait_answering(spamc, str(port), proc)
        assert len(children(proc.pid)) == 2
        for target in (str(port), str(sock_path)):
            assert spamc_check(spamc, target, MESSAGES / "listed-deep.eml") == "8.0/5.0"
            assert spamc_check(spamc, target, MESSAGES / "clean.eml") == "0.0/5.0"
        # A worker that dies is replaced; the service keeps answering.
        victim, survivor = children(proc.pid)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            now = children(proc.pid)
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.1)
        assert survivor in children(proc.pid) and victim not in children(proc.pid)
        assert len(children(proc.pid)) == 2
        assert spamc_check(spamc, str(port), MESSAGES / "listed-deep.eml") == "8.0/5.0"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(DEADLINE_S) == 0
        assert not sock_path.exists()


def test_two_workers_track_every_message_in_one_sqlite_database(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # Each worker has its own tracking writer on the same SQLite file (WAL, busy timeout), and
    # the kernel spreads the 200 connections over both: no record may be lost to "database is
    # locked", none written twice.
    port = free_port()
    database = tmp_path / "tracking.db"
    config = write_config(
        top=f'tracking_db = "sqlite:///{database}"',
        server=f'listen = ["127.0.0.1:{port}"]\nworkers = 2',
        extra='[tracking]\nbatch_interval_s = 0.05\nhost = "mx1.test"\n',
    )
    with serving(config, tmp_path / "serve.log") as proc:
        wait_answering(need("spamc"), str(port), proc)
        result = asyncio.run(run_load(port, 200, concurrency=8))
        proc.send_signal(signal.SIGTERM)  # each worker flushes its queue before it exits
        assert proc.wait(DEADLINE_S) == 0
    assert (result.ok, result.failures) == (200, [])
    with sqlite3.connect(database) as db:
        hosts = db.execute("SELECT host, count(*) FROM oplguard_messages GROUP BY host").fetchall()
        actions = dict(db.execute("SELECT action, count(*) FROM oplguard_messages GROUP BY action"))
    # 200 + the one clean message wait_answering got an answer for
    assert hosts == [("mx1.test", 201)]
    assert actions["delete"] == 67  # run_load lists every third message (0, 3, ..., 198)
    assert "database is locked" not in (tmp_path / "serve.log").read_text()


@pytest.mark.parametrize("value", ["-1", "1.5", '"two"', "999"])
def test_bad_worker_count_names_the_fix(write_config: ConfigWriter, value: str) -> None:
    config = write_config(server=f"workers = {value}")
    result = oplguard("check-config", str(config))
    assert result.returncode == 78
    assert "workers" in result.stderr
    assert "fix:" in result.stderr or "write" in result.stderr


def worker_levels(control: Path, slot: int) -> dict[str, str]:
    """Ask one worker directly, on its own socket (not through the parent); {} while a new
    worker has not opened it yet."""
    try:
        reply = ask(worker_socket(control, slot), {"cmd": "levels"})
    except ControlError:
        return {}
    return dict(reply["levels"])


def status(config: Path) -> dict[str, Any]:
    result = oplguard("status", "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def scanned(status_reply: dict[str, Any]) -> float:
    return sum(status_reply["counters"].get("oplguard_messages", {}).values())


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        return str(response.read().decode())


def messages_total(exposition: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "oplguard_messages_total"
    )


def test_control_socket_and_metrics_cover_every_worker(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # Before, the first worker to bind the control socket got every request: `log-level`
    # changed one worker, `status` counted one worker's messages, /metrics showed one worker's
    # counters, and SIGUSR1 (no handler in the parent) killed the parent.
    port = free_port()
    control = tmp_path / "control.sock"
    metrics_port = free_port()
    config = write_config(
        top=f'control_socket = "{control}"',
        server=f'listen = ["127.0.0.1:{port}"]\nworkers = 2',
        extra=f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n',
    )
    with serving(config, tmp_path / "serve.log") as proc:
        wait_answering(need("spamc"), str(port), proc)
        # Both workers up with their control sockets (a worker opens it after its listeners).
        wait_for(lambda: sum("error" not in w for w in status(config)["workers"]) == 2)
        pids = set(children(proc.pid))
        assert {row["pid"] for row in status(config)["workers"]} == pids

        changed = oplguard("log-level", "relays", "debug", "--for", "10m", "--config", str(config))
        assert changed.returncode == 0, changed.stderr
        for slot in (0, 1):
            assert worker_levels(control, slot)["relays"] == "DEBUG"

        before = scanned(status(config))
        result = asyncio.run(run_load(port, 40, concurrency=4))
        assert (result.ok, result.failures) == (40, [])
        after = status(config)
        assert scanned(after) == before + 40  # the totals of both workers
        assert after["connections_open"] == sum(w["connections_open"] for w in after["workers"])
        # One scrape, served by the parent: every worker's samples added up.
        scraped = messages_total(scrape(metrics_port))
        own = [
            messages_total(ask(worker_socket(control, s), {"cmd": "metrics"})["text"])
            for s in (0, 1)
        ]
        assert scraped == sum(own) == scanned(after)

        proc.send_signal(signal.SIGUSR1)  # to the parent only: it passes it on
        wait_for(lambda: all(worker_levels(control, s)["policy"] == "INFO" for s in (0, 1)))
        assert proc.poll() is None
        assert set(children(proc.pid)) == pids

        # A worker started in place of a dead one gets the live workers' levels and traces.
        traced = oplguard("trace", "--ip", "192.0.2.99", "--for", "10m", "--config", str(config))
        assert traced.returncode == 0, traced.stderr
        timed = oplguard("log-level", "web", "debug", "--for", "10m", "--config", str(config))
        assert timed.returncode == 0, timed.stderr
        dead = status(config)["workers"][1]["pid"]
        os.kill(dead, signal.SIGKILL)
        wait_for(lambda: len(children(proc.pid)) == 2 and dead not in children(proc.pid))
        wait_for(lambda: worker_levels(control, 1) == worker_levels(control, 0) != {}, DEADLINE_S)
        fresh = ask(worker_socket(control, 1), {"cmd": "status"})
        assert fresh["levels"]["web"] == "DEBUG" and fresh["levels"]["policy"] == "INFO"
        assert [r["component"] for r in fresh["reverts"]] == ["web"]  # still reverts by itself
        assert [t["ip"] for t in fresh["traces"]] == ["192.0.2.99"]
        pids = set(children(proc.pid))

        # A worker that cannot answer is named; a change then says where it did not apply.
        victim = status(config)["workers"][1]
        os.kill(victim["pid"], signal.SIGSTOP)
        try:
            refused = oplguard("log-level", "web", "error", "--config", str(config), timeout=60)
            assert refused.returncode == 65
            assert f"applied on worker(s) 0 only; worker 1 (pid {victim['pid']})" in refused.stderr
            shown = oplguard("status", "--config", str(config), timeout=60)
            assert shown.returncode == 0
            assert f"worker 1 (pid {victim['pid']}) did not answer" in shown.stdout
        finally:
            os.kill(victim["pid"], signal.SIGCONT)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(DEADLINE_S) == 0
    assert sorted(p.name for p in tmp_path.glob("control.sock*")) == []
