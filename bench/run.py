"""Benchmark runner: oplguard side by side with the ceiling, SpamAssassin and rspamd.

    .venv/bin/python -m bench.run [--servers oplguard,ceiling,spamassassin,rspamd]
        [--requests 2000] [--concurrency 1,8,32] [--rate 100] [--open-requests 1000]
        [--spamc-requests 200] [--list-entries 100000] [--workers 1] [--json out.json]

Every server gets the same seeded workload (see ``bench.workload``) and the
same list, on loopback, one after the other in one run.  For each server:

1. a verification pass sends every message once and compares the verdicts
   with the workload's labels (a competitor that flags nothing is no
   comparison: the run fails if one flags under half of the listed messages);
2. closed loops (``--concurrency``) with the asyncio driver: msgs/s,
   p50/p99/p99.9 latency, server CPU per message (whole process tree), RSS
   and PSS of the tree;
3. an open loop at ``--rate`` msgs/s: latency without coordinated omission;
4. the real ``spamc -c`` at concurrency 4, one process per message.

Ratios (CPU per message against oplguard's, msgs/s against the ceiling's)
are computed within the run.  ``bench/setup.sh`` (root) installs rspamd.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench import competitors, load, procstat, spamc_driver, workload

SPAMC_CONCURRENCY = 4
MIN_FLAGGED_SHARE = 0.5  # a competitor must flag at least this share of the listed messages


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": {name: version(name) for name in ("spamd", "rspamd", "rbldnsd")},
    }


def version(name: str) -> str:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return ""
    return out.stdout.strip()


def verify(server: competitors.Server, work: workload.Workload) -> dict[str, Any]:
    """Every message once; verdicts against the labels."""
    result = asyncio.run(
        load.closed_loop("127.0.0.1", server.port, work.messages, 8, len(work.messages))
    )
    flagged = sum(result.verdicts.values())
    true_pos = sum(1 for i, s in result.verdicts.items() if s and work.labels[i])
    false_pos = sum(1 for i, s in result.verdicts.items() if s and not work.labels[i])
    return {
        "server": server.name,
        "messages": len(work.messages),
        "answered": len(result.verdicts),
        "failures": result.failures,
        "expected_spam": work.expected_spam,
        "flagged": flagged,
        "flagged_listed": true_pos,
        "flagged_unlisted": false_pos,
        "missed": work.expected_spam - true_pos,
    }


def row_of(
    server: competitors.Server,
    mode: str,
    level: float,
    result: load.Results,
    cpu_s: float,
    helper_cpu_s: float,
) -> dict[str, Any]:
    memory = procstat.memory(server.pid)
    done = max(1, len(result.latencies))
    return {
        "server": server.name,
        "mode": mode,
        "concurrency" if mode != "open" else "rate": level,
        **result.summary(),
        "server_cpu_ms_per_msg": cpu_s * 1000 / done,
        "helper_cpu_ms_per_msg": helper_cpu_s * 1000 / done,
        "rss_mb": memory.rss_mb,
        "pss_mb": memory.pss_mb,
        "processes": memory.processes,
        "startup_s": server.startup_s,
    }


def measured(
    server: competitors.Server, mode: str, level: float, drive: Callable[[], load.Results]
) -> dict[str, Any]:
    cpu0 = procstat.cpu_seconds(server.pid)
    helper0 = sum(procstat.cpu_seconds(pid) for pid in server.helper_pids)
    result = drive()
    cpu = procstat.cpu_seconds(server.pid) - cpu0
    helper = sum(procstat.cpu_seconds(pid) for pid in server.helper_pids) - helper0
    row = row_of(server, mode, level, result, cpu, helper)
    print(format_row(row), flush=True)
    return row


def bench_server(
    server: competitors.Server, work: workload.Workload, args: argparse.Namespace
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    check = verify(server, work)
    print(
        f"{server.name:<12} verify: flagged {check['flagged']} of {check['messages']} "
        f"({check['flagged_listed']} of {check['expected_spam']} listed, "
        f"{check['flagged_unlisted']} unlisted), failures {check['failures']}",
        flush=True,
    )
    rows = []
    port, messages = server.port, work.messages
    for concurrency in args.concurrency:
        rows.append(
            measured(
                server,
                "closed",
                concurrency,
                functools.partial(
                    asyncio.run,
                    load.closed_loop("127.0.0.1", port, messages, concurrency, args.requests),
                ),
            )
        )
    if args.rate > 0 and args.open_requests > 0:
        rows.append(
            measured(
                server,
                "open",
                args.rate,
                lambda: asyncio.run(
                    load.open_loop("127.0.0.1", port, messages, args.rate, args.open_requests)
                ),
            )
        )
    program = spamc_driver.spamc_program()
    if program and args.spamc_requests > 0:
        rows.append(
            measured(
                server,
                "spamc",
                SPAMC_CONCURRENCY,
                lambda: asyncio.run(
                    spamc_driver.closed_loop(
                        program, port, messages, SPAMC_CONCURRENCY, args.spamc_requests
                    )
                ),
            )
        )
    return check, rows


def format_row(row: dict[str, Any]) -> str:
    level = f"c={row['concurrency']}" if "concurrency" in row else f"r={row['rate']:g}/s"
    return (
        f"{row['server']:<12} {row['mode']:<6} {level:<8} {row['msgs_per_s']:7.0f} msgs/s  "
        f"p50 {row['p50_ms']:7.2f}  p99 {row['p99_ms']:7.2f}  p99.9 {row['p999_ms']:7.2f} ms  "
        f"cpu/msg {row['server_cpu_ms_per_msg']:6.3f} ms (+{row['helper_cpu_ms_per_msg']:.3f})  "
        f"rss {row['rss_mb']:6.1f} pss {row['pss_mb']:6.1f} MB  fail {row['failures']}"
    )


def starter(
    name: str, folder: Path, work: workload.Workload, workers: int
) -> AbstractContextManager[competitors.Server]:
    base, _, count = name.partition(":")  # oplguard:N = oplguard with [server] workers = N
    # -mypyc: the compiled build (setup.py); -notrack: tracking_db = "" (tracking off)
    if base in ("oplguard", "oplguard-mypyc", "oplguard-notrack", "oplguard-mypyc-notrack"):
        if count and not count.isdigit():
            raise SystemExit(f"bad server {name!r}: write {base}:N with N workers, e.g. {base}:2")
        compiled, tracking = "-mypyc" in base, not base.endswith("-notrack")
        return competitors.oplguard(folder, work, int(count or workers), name, compiled, tracking)
    if name == "ceiling":
        return competitors.ceiling(folder)
    if name == "spamassassin":
        return competitors.spamassassin(folder, work)
    if name == "rspamd":
        return competitors.rspamd(folder, work)
    raise SystemExit(f"unknown server {name!r}; choose from {', '.join(competitors.SERVERS)}")


def closed_rows(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (r for r in rows if r["mode"] == "closed")


def ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per server: CPU/msg over all closed loops against oplguard's; msgs/s at c=32 vs ceiling."""
    cpu: dict[str, float] = {}
    for name in dict.fromkeys(r["server"] for r in rows):
        mine = [r for r in closed_rows(rows) if r["server"] == name]
        msgs = sum(r["requests"] for r in mine)
        total = sum(r["server_cpu_ms_per_msg"] * r["requests"] for r in mine)
        cpu[name] = total / max(1, msgs)
    top = max((r["concurrency"] for r in closed_rows(rows)), default=0)
    speed = {r["server"]: r["msgs_per_s"] for r in closed_rows(rows) if r["concurrency"] == top}
    out: dict[str, dict[str, float]] = {}
    for name, value in cpu.items():
        out[name] = {"server_cpu_ms_per_msg": value}
        if cpu.get("oplguard"):
            out[name]["cpu_vs_oplguard"] = value / cpu["oplguard"]
        if "ceiling" in speed and name in speed:
            out[name][f"msgs_per_s_vs_ceiling_c{top}"] = speed[name] / speed["ceiling"]
    return out


def markdown(rows: list[dict[str, Any]], table_ratios: dict[str, dict[str, float]]) -> str:
    """The docs table: one line per server."""
    lines = [
        "| server | CPU/msg (ms) | vs oplguard | msgs/s c=32 | vs ceiling | p50/p99/p99.9 c=8 (ms) "
        "| RSS / PSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, values in table_ratios.items():
        by_c = {r["concurrency"]: r for r in closed_rows(rows) if r["server"] == name}
        top, c8 = by_c.get(max(by_c)) if by_c else None, by_c.get(8)
        lat = f"{c8['p50_ms']:.1f} / {c8['p99_ms']:.1f} / {c8['p999_ms']:.1f}" if c8 else "-"
        mem = f"{top['rss_mb']:.0f} / {top['pss_mb']:.0f}" if top else "-"
        lines.append(
            f"| {name} | {values['server_cpu_ms_per_msg']:.3f} | "
            f"{values.get('cpu_vs_oplguard', float('nan')):.1f} | "
            f"{top['msgs_per_s'] if top else 0:.0f} | "
            f"{next((v for k, v in values.items() if k.startswith('msgs_per_s_vs')), 0):.2f} | "
            f"{lat} | {mem} |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--servers",
        default=",".join(competitors.SERVERS),
        help="comma-separated; oplguard:N runs oplguard with [server] workers = N; "
        "oplguard-mypyc[:N] the mypyc build (scripts/compiled.sh); every oplguard tracks "
        "each message into SQLite unless its name ends in -notrack (tracking off)",
    )
    parser.add_argument("--requests", type=int, default=2000, help="per closed-loop point")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--rate", type=float, default=100.0, help="open loop msgs/s (0: skip)")
    parser.add_argument("--open-requests", type=int, default=1000)
    parser.add_argument("--spamc-requests", type=int, default=200, help="0: skip the spamc driver")
    parser.add_argument("--list-entries", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="oplguard [server] workers")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    return args


def main() -> int:
    args = parse_args()
    report: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, "-m", "bench.run", *sys.argv[1:]]),
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    rows: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    notes: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="oplguard-bench-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        work = workload.build(folder, args.messages, args.list_entries)
        work.opl_path.chmod(0o644)
        report["workload"] = {
            "messages": len(work.messages),
            "list_entries": args.list_entries,
            "allow_listed": len(work.allowed),
            "expected_spam": work.expected_spam,
            "hops": [1, workload.MAX_HOPS],
        }
        print(f"workload: {report['workload']}", flush=True)
        for name in args.servers:
            try:
                with starter(name, folder, work, args.workers) as server:
                    print(f"{name}: ready in {server.startup_s:.1f} s ({server.notes})", flush=True)
                    notes[name] = server.notes
                    check, server_rows = bench_server(server, work, args)
            except competitors.NotAvailable as missing:
                print(f"{name}: skipped: {missing}", flush=True)
                notes[name] = f"skipped: {missing}"
                continue
            checks.append(check)
            rows += server_rows
    report["load_after"] = os.getloadavg()
    report["notes"] = notes
    report["verification"] = checks
    report["rows"] = rows
    report["ratios"] = ratios(rows)
    report["table"] = markdown(rows, report["ratios"])
    print(report["table"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    invalid = [
        c["server"]
        for c in checks
        if c["server"] != "ceiling" and c["flagged_listed"] < MIN_FLAGGED_SHARE * c["expected_spam"]
    ]
    if invalid:
        print(f"not a valid comparison: {', '.join(invalid)} flagged too few listed messages")
    failed = sum(int(r["failures"]) for r in rows)
    return 1 if failed or invalid else 0


if __name__ == "__main__":
    raise SystemExit(main())
