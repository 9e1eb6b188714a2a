"""Bounded cost per request (issue 13 §3) and TLS handshakes (issue 20 §4), with real
processes: ``oplguard serve`` / ``oplguard policyd``, the real spamc, and hostile peers
that trickle one byte at a time from their own loopback addresses (tests/integration/trickle.py).

Figures are printed (``-s`` shows them) for docs/robustness.md; what is asserted is the
order of events (served while the tricklers were still sending; every trickler closed by
the server), never a wall-clock time.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter
from tests.integration.harness import free_port, need
from tests.integration.mta.policyd import ask, policy_request
from tests.integration.trickle import Trickler, running, tls_client, tricklers
from tests.samples import message

pytestmark = pytest.mark.integration

ALLOWED = 'allowed_ips = ["127.0.0.0/28"]'  # the tricklers' own addresses
SPAMD_START = b"CHECK SPAMC/1.5\r\nUser: "  # then a user name, one byte at a time
POLICY_START = b"request=smtpd_access_policy\nclient_name="
SCORE = re.compile(rb"^\d+(\.\d+)?/\d+(\.\d+)?\n$")


def spamc_once(port: int) -> bool:
    """One real spamc check from 127.0.0.1; True when it was scored (not 0/0)."""
    done = subprocess.run(
        [need("spamc"), "-d", "127.0.0.1", "-p", str(port), "-c", "-t", "30"],
        input=message("listed-connecting.eml"),
        capture_output=True,
        timeout=60,
        check=False,
    )
    return bool(SCORE.match(done.stdout)) and done.stdout != b"0/0\n"


def policy_once(port: int) -> bool:
    try:
        reply = ask(("127.0.0.1", port), policy_request("192.0.2.1"))[0]
    except OSError:
        return False
    return reply.startswith(b"action=")


def legitimate(client: object, port: int, peers: list[Trickler]) -> tuple[int, int, float]:
    """One request a second until one is served, or until shortly before the tricklers
    would give up on their own: (refused before, served, seconds to the first served)."""
    started, refused = time.monotonic(), 0
    while time.monotonic() - started < min(peer.give_up_s for peer in peers) - 5:
        if client(port):  # type: ignore[operator]
            return refused, 1, time.monotonic() - started
        refused += 1
        time.sleep(1.0)
    return refused, 0, time.monotonic() - started


def report(name: str, peers: list[Trickler], refused: int, served: int, first: float) -> None:
    closed = sum(peer.closed_by_server for peer in peers)
    slowest = max(peer.closed_after_s for peer in peers)
    print(
        f"\n{name}: tricklers={len(peers)} closed_by_server={closed} slowest_close_s={slowest:.1f} "
        f"legitimate: refused={refused} served={served} first_served_after_s={first:.1f}"
    )


def test_spamd_tricklers_are_cut_at_the_request_deadline(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # Before, request_timeout_s bounded each read: a byte every 0.5 s held a slot for
    # as long as the peer liked, and with max_connections of them nobody else was served.
    port = free_port()
    config = write_config(
        server=f'listen = ["127.0.0.1:{port}"]\n{ALLOWED}\nmax_connections = 4\n'
        "request_timeout_s = 3"
    )
    with running("serve", config, port, tmp_path / "serve.log"):
        sources = [f"127.0.0.{n}" for n in range(2, 6)]  # 4 peers: every slot
        peers = tricklers(port, sources, SPAMD_START)
        refused, served, first = legitimate(spamc_once, port, peers)
        for peer in peers:
            peer.join()
    report("spamd", peers, refused, served, first)
    assert served == 1, "the legitimate client was never served while the tricklers sent"
    assert all(peer.closed_by_server for peer in peers)
    assert all(b"SPAMD/1.0 79 Timeout" in peer.reply for peer in peers)
    assert "request not complete within 3s" in (tmp_path / "serve.log").read_text()


def test_spamd_per_peer_cap_keeps_slots_for_other_peers(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    port = free_port()
    config = write_config(
        server=f'listen = ["127.0.0.1:{port}"]\n{ALLOWED}\nmax_connections = 4\n'
        "max_connections_per_peer = 2\nrequest_timeout_s = 30"
    )
    with running("serve", config, port, tmp_path / "serve.log"):
        peers = tricklers(port, ["127.0.0.2"] * 4, SPAMD_START, give_up_s=8.0)
        served = spamc_once(port)  # at once: 2 slots are still free
        for peer in peers:
            peer.join()
    cut = [peer for peer in peers if b" 69 " in peer.reply and peer.closed_by_server]
    print(f"\nper-peer cap: tricklers=4 refused_at_once={len(cut)} legitimate_served={served}")
    assert served
    assert len(cut) == 2  # the two over the cap; the other two were still trickling


def test_policyd_tricklers_are_cut_at_the_request_deadline(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    port = free_port()
    config = write_config(
        extra=f'[policyd]\nlisten = ["127.0.0.1:{port}"]\n{ALLOWED}\n'
        "max_connections = 3\nrequest_timeout_s = 3\n"
    )
    with running("policyd", config, port, tmp_path / "policyd.log"):
        peers = tricklers(port, [f"127.0.0.{n}" for n in range(2, 5)], POLICY_START)
        refused, served, first = legitimate(policy_once, port, peers)
        for peer in peers:
            peer.join()
    report("policyd", peers, refused, served, first)
    assert served == 1
    assert all(peer.closed_by_server and peer.reply == b"" for peer in peers)
    assert "request not complete within 3s" in (tmp_path / "policyd.log").read_text()


def test_stalled_tls_handshakes_take_no_scoring_slot(
    write_config: ConfigWriter, tmp_path: Path, tls_files: tuple[Path, Path]
) -> None:
    # Before, a handshake held a scoring slot for up to 10 s: max_connections stalled
    # handshakes refused every client on every listener.
    cert, key = tls_files
    port, tls_port = free_port(), free_port()
    config = write_config(
        server=f'listen = ["127.0.0.1:{port}", "tls:127.0.0.1:{tls_port}"]\n{ALLOWED}\n'
        "max_connections = 2\nmax_tls_handshakes = 3\ntls_handshake_timeout_s = 3\n"
        f'[server.tls]\ncert = "{cert}"\nkey = "{key}"\n'
    )
    log = tmp_path / "serve.log"
    with running("serve", config, port, log):
        stalled = tricklers(tls_port, ["127.0.0.2", "127.0.0.3"], b"", tls=True)
        sent, answered = 6, sum(spamc_once(port) for _ in range(6))
        over_tls = tls_client(tls_port, b"PING SPAMC/1.5\r\n\r\n")
        for peer in stalled:
            peer.join()  # closed by the server at the handshake deadline
        assert all(peer.closed_by_server for peer in stalled)
        assert log.read_text().count("failed: not finished within 3s") == 2
    print(
        f"\nstalled TLS handshakes=2: tcp sent={sent} answered={answered} failed={sent - answered}"
    )
    assert answered == sent
    assert over_tls.startswith(b"SPAMD/1.5 0 PONG")


def test_a_full_handshake_pool_closes_new_tls_connections_cleanly(
    write_config: ConfigWriter, tmp_path: Path, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    port, tls_port = free_port(), free_port()
    config = write_config(
        server=f'listen = ["127.0.0.1:{port}", "tls:127.0.0.1:{tls_port}"]\n{ALLOWED}\n'
        "max_tls_handshakes = 1\nmax_connections_per_peer = 1\n"
        f'[server.tls]\ncert = "{cert}"\nkey = "{key}"\n'
    )
    log = tmp_path / "serve.log"
    with running("serve", config, port, log):
        (stalled,) = tricklers(tls_port, ["127.0.0.2"], b"", tls=True, give_up_s=6.0)
        with pytest.raises((ssl.SSLError, OSError)):  # closed before its handshake
            tls_client(tls_port, b"PING SPAMC/1.5\r\n\r\n")
        # Over its per-peer cap on a TLS port: closed, never a plaintext busy line.
        (second,) = tricklers(tls_port, ["127.0.0.2"], b"", tls=True, give_up_s=6.0)
        served = spamc_once(port)
        stalled.join()
        second.join()
    assert served
    assert second.closed_by_server and second.reply == b""
    text = log.read_text()
    assert "closed: 1 handshakes in progress" in text
    assert "refused connection from 127.0.0.2" in text


def test_busy_answer_to_a_tls_client_goes_over_tls(
    write_config: ConfigWriter, tmp_path: Path, tls_files: tuple[Path, Path]
) -> None:
    # Before, the "69 too many connections" reply went out in plaintext on a TLS port.
    cert, key = tls_files
    port, tls_port = free_port(), free_port()
    config = write_config(
        server=f'listen = ["127.0.0.1:{port}", "tls:127.0.0.1:{tls_port}"]\n{ALLOWED}\n'
        f'max_connections = 1\nrequest_timeout_s = 30\n[server.tls]\ncert = "{cert}"\n'
        f'key = "{key}"\n'
    )
    with running("serve", config, port, tmp_path / "serve.log"):
        (holder,) = tricklers(port, ["127.0.0.2"], SPAMD_START, give_up_s=6.0)
        answer = tls_client(tls_port, b"PING SPAMC/1.5\r\n\r\n")
        holder.join()
    assert answer.startswith(b"SPAMD/1.0 69 Service Unavailable")


def test_control_socket_trickler_is_cut(write_config: ConfigWriter, tmp_path: Path) -> None:
    control = tmp_path / "control.sock"
    port = free_port()
    config = write_config(
        top=f'control_socket = "{control}"', server=f'listen = ["127.0.0.1:{port}"]'
    )
    with running("serve", config, port, tmp_path / "serve.log"):
        while not control.exists():
            time.sleep(0.1)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(control))
            sock.settimeout(60)
            started, closed = time.monotonic(), False
            try:
                for _ in range(60):  # 30 s of trickling, past the 10 s deadline
                    sock.sendall(b" ")
                    time.sleep(0.5)
            except OSError:
                closed = True
        print(f"\ncontrol trickler closed after {time.monotonic() - started:.1f}s")
    assert closed
    assert "request not complete within 10s" in (tmp_path / "serve.log").read_text()


def ping_from(source: str, port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), 30, source_address=(source, 0)) as sock:
        sock.sendall(b"PING SPAMC/1.5\r\n\r\n")
        answer = b""
        with contextlib.suppress(ConnectionResetError):  # closed unread: a reset
            while chunk := sock.recv(4096):
                answer += chunk
        return answer


def test_an_allowed_ips_range_admits_every_address_in_it(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # Issue 15: before, 127.0.0.2-127.0.0.9 admitted 127.0.0.2 only.
    port = free_port()
    config = write_config(
        server=f'listen = ["127.0.0.1:{port}"]\nallowed_ips = ["127.0.0.2-127.0.0.9"]'
    )
    with running("serve", config, port, tmp_path / "serve.log"):
        answers = {n: ping_from(f"127.0.0.{n}", port) for n in (1, 2, 5, 9, 10)}
    assert {n for n, a in answers.items() if a.startswith(b"SPAMD/1.5 0 PONG")} == {2, 5, 9}
    assert answers[1] == answers[10] == b""  # outside: closed without a word


def live_children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
                if int(ppid) == pid and state != "Z":
                    found.add(int(entry.name))
    return found


def unix_trickler(path: Path, seconds: float) -> threading.Thread:
    """A control client that sends a byte every 0.5 s for ``seconds``."""

    def run() -> None:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(path))
            ends = time.monotonic() + seconds
            while time.monotonic() < ends:
                sock.sendall(b" ")
                time.sleep(0.5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_supervisor_replaces_a_dead_worker_while_clients_trickle(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # Before, the parent answered control and scrape clients in its wait loop, a read
    # timeout per recv: a client trickling a byte every 0.5 s held it, and a dead worker
    # was not replaced until that client gave up.
    port, metrics_port = free_port(), free_port()
    control = tmp_path / "control.sock"
    config = write_config(
        top=f'control_socket = "{control}"',
        server=f'listen = ["127.0.0.1:{port}"]\nworkers = 2',
        extra=f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n',
    )
    with running("serve", config, port, tmp_path / "serve.log") as proc:
        while len(live_children(proc.pid)) < 2 or not control.exists():
            time.sleep(0.1)
        clients = [unix_trickler(control, 30)]
        scrape = tricklers(metrics_port, ["127.0.0.1"], b"GET /metrics HTTP/1.1\r\nX: ")
        victim = min(live_children(proc.pid))
        os.kill(victim, signal.SIGKILL)
        started = time.monotonic()
        while not (len(live_children(proc.pid)) == 2 and victim not in live_children(proc.pid)):
            assert any(c.is_alive() for c in clients), "not replaced while the client trickled"
            time.sleep(0.1)
        replaced_after = time.monotonic() - started
        served = spamc_once(port)
        for peer in scrape:
            peer.join()  # cut by the parent's client deadline, the service still up
    print(f"\nworker replaced after {replaced_after:.1f}s while a control client trickled")
    assert served
    assert all(peer.closed_by_server for peer in scrape)
