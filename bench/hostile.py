"""Hostile messages against a real ``oplguard serve``: memory, time and what others wait.

    .venv/bin/python -m bench.hostile [--python PATH] [--case NAME]...

Starts ``PATH -m oplguard serve`` (default: this interpreter; point it at another
checkout's venv to measure that code) on loopback with the sample lists, then
for each case sends the message with SYMBOLS (``--rounds`` times) while a second
client sends PINGs back to back on fresh connections.  Per case it prints the
server's peak RSS growth (VmHWM), the median request time, the median of the
longest PING round trip during each request, and the symbols.
``--in-process`` instead measures, in CPU time of the event loop's thread,
the longest stretch one request holds the loop (the PING round trip also
counts the other processes of a busy machine).  The
figures are in docs/robustness.md, "Per-message limits".
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

START_DEADLINE_S = 60.0
IO_TIMEOUT_S = 600.0
TOP = (
    b"Received: from mail.example.org (mail.example.org [192.0.2.99])\r\n"
    b"\tby mx.example.net (Postfix) with ESMTP id 4XyZ1\r\n"
    b"\tfor <user@example.net>; Tue,  1 Oct 2024 10:00:00 +0000 (UTC)\r\n"
)
REST = b"Subject: test\r\n\r\nhello\r\n"


def ips(count: int) -> bytes:
    return b" ".join(b"198.51.%d.%d" % (i >> 8 & 255, i & 255) for i in range(1, count + 1))


def hop(ip: bytes) -> bytes:
    return TOP.replace(b"192.0.2.99", ip)


CASES: dict[str, Callable[[], bytes]] = {
    "clean": lambda: TOP + REST,
    "originating-100k": lambda: TOP + b"X-Originating-IP: " + ips(7_700) + b"\r\n" + REST,
    "originating-3000-headers": lambda: TOP + b"X-Originating-IP: 198.51.100.9\r\n" * 3_000 + REST,
    "header-lines-500k": lambda: TOP + b"X-A: b\r\n" * 62_000 + REST,
    "received-3000-hops": lambda: TOP * 3_000 + REST,
    "received-99-listed-hops": lambda: hop(b"203.0.113.66") * 99 + REST,
}


def config(folder: Path, lists: Path) -> Path:
    path = folder / "oplguard.toml"
    path.write_text(
        f'control_socket = "{folder / "control.sock"}"\n'
        '[server]\nlisten = ["127.0.0.1:0"]\nmax_connections = 256\n'
        f'[[lists]]\nname = "opl"\npath = "{lists / "opl.txt"}"\ncategory = "open-proxy"\n'
        '[groups.open_proxy_list]\nlists = ["opl"]\naction = "delete"\nsymbol = "OPL"\n'
    )
    return path


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def listening_port(log: Path, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline and proc.poll() is None:
        for line in log.read_text(errors="replace").splitlines():
            if "listening on 127.0.0.1:" in line:
                return int(line.split("listening on 127.0.0.1:")[1].split()[0])
        time.sleep(0.1)
    raise RuntimeError(f"oplguard serve did not start: {log.read_text()}")


def measure(port: int, pid: int, body: bytes) -> tuple[int, float, float, bytes]:
    """(peak RSS growth KB, request s, longest PING s during it, reply)."""
    exchange(port, b"PING SPAMC/1.5\r\n\r\n")
    before = peak_rss_kb(pid)
    done = threading.Event()
    pings: list[float] = []

    def ping() -> None:
        while not done.is_set():
            began = time.perf_counter()
            exchange(port, b"PING SPAMC/1.5\r\n\r\n")
            pings.append(time.perf_counter() - began)

    pinger = threading.Thread(target=ping)
    began = time.perf_counter()
    request = b"SYMBOLS SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(body) + body
    pinger.start()
    reply = exchange(port, request)
    took = time.perf_counter() - began
    done.set()
    pinger.join()
    return peak_rss_kb(pid) - before, took, max(pings, default=0.0), reply


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    parser.add_argument("--rounds", type=int, default=3, help="per case; medians are printed")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="measure the longest stretch on the event loop in this process instead",
    )
    args = parser.parse_args()
    names = args.case or list(CASES)
    if args.in_process:
        print(f"{'case':26} {'longest hold ms':>16} {'request CPU ms':>15}")
        for name, (hold, cpu) in longest_holds(names).items():
            print(f"{name:26} {hold * 1000:16.1f} {cpu * 1000:15.1f}")
        return 0
    lists = Path(__file__).resolve().parent.parent / "plugin" / "oplguard" / "defaults" / "lists"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log = folder / "serve.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [args.python, "-m", "oplguard", "serve", "--config", str(config(folder, lists))],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            port = listening_port(log, proc)
            print(
                f"{'case':26} {'bytes':>8} {'RSS+ MB':>8} {'request s':>10} "
                f"{'max PING ms':>12}  symbols"
            )
            for name in names:
                body = CASES[name]()
                rounds = [measure(port, proc.pid, body) for _ in range(args.rounds)]
                grew = max(r[0] for r in rounds)
                took = statistics.median(r[1] for r in rounds)
                worst = statistics.median(r[2] for r in rounds)
                reply = rounds[-1][3]
                symbols = reply.split(b"\r\n\r\n", 1)[-1].decode("latin-1")
                print(
                    f"{name:26} {len(body):8} {grew / 1024:8.1f} {took:10.3f} "
                    f"{worst * 1000:12.1f}  {symbols}"
                )
        finally:
            proc.terminate()
            proc.wait(START_DEADLINE_S)
    return 0


def longest_holds(names: list[str], rounds: int = 5) -> dict[str, tuple[float, float]]:
    """In this process: (longest stretch on the event loop, CPU of the request), seconds.

    CPU time of this thread, so that other processes on the machine do not count:
    a ticker task notes the CPU used between two of its turns while one request
    is answered by the real ScoringService; the best of ``rounds``.
    """
    import asyncio
    import logging

    from oplguard.config import loader as config_loader
    from oplguard.lists.store import ListStore
    from oplguard.policy.scanner import Scanner
    from oplguard.server.service import ScoringService
    from oplguard.spamd.messages import Request, Verb

    logging.disable(logging.WARNING)
    cfg = config_loader.load(config_loader.default_config_path())
    lists = ListStore(cfg.lists)
    lists.load()
    service = ScoringService(Scanner(cfg, lists))

    async def once(body: bytes) -> tuple[float, float]:
        gaps: list[float] = []
        done = asyncio.Event()

        async def tick() -> None:
            last = time.thread_time()
            while not done.is_set():
                await asyncio.sleep(0)
                now = time.thread_time()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0)
        began = time.thread_time()
        await service.respond(Request(Verb.SYMBOLS, (1, 5), body=body))
        cpu = time.thread_time() - began
        done.set()
        await ticker
        return max(gaps), cpu

    async def run() -> dict[str, tuple[float, float]]:
        out = {}
        for name in names:
            results = [await once(CASES[name]()) for _ in range(rounds)]
            out[name] = (min(r[0] for r in results), min(r[1] for r in results))
        return out

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
