"""Benchmark runner: oplguard side by side with the fixed-reply ceiling, on loopback.

    .venv/bin/python -m bench.run [--requests 3000] [--concurrency 1,8,32]
                                  [--list-entries 100000] [--json out.json]

Prints msgs/s, p50/p99/p99.9 latency, server CPU per message and RSS for each
server and concurrency, and the ratios to the ceiling.  Bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import load, workload

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def write_config(folder: Path, work: workload.Workload, port: int) -> Path:
    allowed = "".join(f'[[allowed_senders]]\nip = "{ip}"\nscope = "hop"\n\n' for ip in work.allowed)
    path = folder / "bench.toml"
    path.write_text(
        f'[server]\nlisten = ["127.0.0.1:{port}"]\nmax_connections = 256\n\n'
        f'[[lists]]\nname = "opl"\npath = "{work.opl_path}"\ncategory = "open-proxy"\n\n'
        f'[groups.open_proxy_list]\nlists = ["opl"]\naction = "delete"\nsymbol = "OPL"\n\n'
        + allowed,
        encoding="utf-8",
    )
    return path


def measure(
    name: str,
    command: list[str],
    port: int,
    work: workload.Workload,
    concurrencies: list[int],
    requests: int,
) -> list[dict[str, Any]]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        started = time.perf_counter()
        wait_ready(port, proc)
        startup_s = time.perf_counter() - started
        for concurrency in concurrencies:
            cpu_before = cpu_seconds(proc.pid)
            result = asyncio.run(
                load.closed_loop("127.0.0.1", port, work.messages, concurrency, requests)
            )
            cpu = cpu_seconds(proc.pid) - cpu_before
            rss, peak = rss_mb(proc.pid)
            row = {
                "server": name,
                "concurrency": concurrency,
                **result.summary(),
                "server_cpu_ms_per_msg": cpu * 1000 / max(1, len(result.latencies)),
                "rss_mb": rss,
                "peak_rss_mb": peak,
                "startup_s": startup_s,
            }
            rows.append(row)
            print(format_row(row), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return rows


def format_row(row: dict[str, Any]) -> str:
    return (
        f"{row['server']:<10} c={row['concurrency']:<3} {row['msgs_per_s']:8.0f} msgs/s  "
        f"p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  "
        f"p99.9 {row['p999_ms']:7.2f} ms  cpu/msg {row['server_cpu_ms_per_msg']:6.3f} ms  "
        f"rss {row['rss_mb']:6.1f} MB  failures {row['failures']}  spam {row['spam']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--list-entries", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="oplguard-bench-") as tmp:
        folder = Path(tmp)
        work = workload.build(folder, args.messages, args.list_entries)
        print(
            f"workload: {len(work.messages)} messages, {args.list_entries} list entries, "
            f"{work.expected_spam} expected spam per {len(work.messages)}",
            flush=True,
        )
        port = free_port()
        oplguard = [
            str(Path(sys.executable).with_name("oplguard")),
            "serve",
            "--config",
            str(write_config(folder, work, port)),
        ]
        rows = measure("oplguard", oplguard, port, work, concurrencies, args.requests)
        ceiling_port = free_port()
        ceiling = [sys.executable, "-m", "bench.ceiling", str(ceiling_port)]
        rows += measure("ceiling", ceiling, ceiling_port, work, concurrencies, args.requests)
    ceilings = {r["concurrency"]: r for r in rows if r["server"] == "ceiling"}
    for row in rows:
        if row["server"] == "oplguard":
            top = ceilings[row["concurrency"]]
            speed = row["msgs_per_s"] / top["msgs_per_s"]
            cost = row["server_cpu_ms_per_msg"] / max(1e-9, top["server_cpu_ms_per_msg"])
            print(
                f"ratio c={row['concurrency']}: throughput {speed:.2f} of the ceiling, "
                f"server cpu/msg x{cost:.1f}"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    failed = sum(int(r["failures"]) for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
