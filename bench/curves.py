"""Scale curves of the service: list size and relay-chain length (issue 8, deliverable 2).

    .venv/bin/python -m bench.curves [--sizes 10000,100000,1000000] [--hops 1,2,4,8,16,32,50]
        [--requests 1500] [--concurrency 8] [--lookups 100000] [--json out.json]

For each list size: ``oplguard serve`` with that list (start-up time = list
load), msgs/s and server CPU per message at ``--concurrency`` with 1-8 hop
messages, RSS; and, in a fresh child process, lookups/s of the loaded list
structure alone (``BlockList.lookup`` of the relay addresses the messages
carry, listed and clean).  For each chain length: the 100k list and messages
of exactly that many hops.  Bounded by its arguments; the 10M point is only
run when asked (``--sizes ...,10000000``): its load time is the list
loader's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import competitors, load, procstat, workload

CHAIN_LIST_ENTRIES = 100_000
PROBE_SEED = 7


def serve(
    folder: Path, work: workload.Workload, sets: dict[str, list[bytes]], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Start oplguard once and drive each message set through it."""
    out: dict[str, dict[str, Any]] = {}
    with competitors.oplguard(folder, work, args.workers) as server:
        for label, messages in sets.items():
            cpu0 = procstat.cpu_seconds(server.pid)
            result = asyncio.run(
                load.closed_loop(
                    "127.0.0.1", server.port, messages, args.concurrency, args.requests
                )
            )
            cpu = procstat.cpu_seconds(server.pid) - cpu0
            memory = procstat.memory(server.pid)
            out[label] = {
                **result.summary(),
                "server_cpu_ms_per_msg": cpu * 1000 / max(1, len(result.latencies)),
                "rss_mb": memory.rss_mb,
                "pss_mb": memory.pss_mb,
                "startup_s": server.startup_s,
            }
    return out


def lookups_child(path: str, probes_path: str) -> dict[str, Any]:
    """In a fresh interpreter: load the list as the service does, time lookups."""
    from oplguard.config.model import ListConfig
    from oplguard.lists.block import load_list

    started = time.perf_counter()
    block = load_list(ListConfig(name="opl", path=Path(path), format="plain"))
    load_s = time.perf_counter() - started
    probes = Path(probes_path).read_text().split()
    hits = 0
    started = time.perf_counter()
    for ip in probes:
        hits += block.lookup(ip) is not None
    elapsed = time.perf_counter() - started
    return {
        "load_s": load_s,
        "lookups_per_s": len(probes) / elapsed,
        "us_per_lookup": elapsed * 1e6 / len(probes),
        "hit_rate": hits / len(probes),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def list_lookups(folder: Path, work: workload.Workload, count: int) -> dict[str, Any]:
    rng = random.Random(PROBE_SEED)
    listed = [rng.choice(work.listed) for _ in range(count // 2)]
    clean = [workload.random_ip(rng) for _ in range(count - len(listed))]
    probes = folder / "probes.txt"
    probes.write_text("\n".join(listed + clean))
    done = subprocess.run(
        [sys.executable, "-m", "bench.curves", "--lookups-child", str(work.opl_path), str(probes)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def size_curve(base: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for size in args.sizes:
        folder = base / f"size-{size}"
        folder.mkdir()
        started = time.perf_counter()
        work = workload.build(folder, args.messages, size)
        written = time.perf_counter() - started
        served = serve(folder, work, {"mixed": work.messages}, args)["mixed"]
        lookups = list_lookups(folder, work, args.lookups) if args.lookups else {}
        row = {"list_entries": size, "write_s": written, **served, "structure": lookups}
        rows.append(row)
        print(
            f"list {size:>10,}: start {served['startup_s']:6.1f} s  "
            f"{served['msgs_per_s']:6.0f} msgs/s  "
            f"cpu/msg {served['server_cpu_ms_per_msg']:.3f} ms  "
            f"rss {served['rss_mb']:6.1f} MB  lookups {lookups.get('lookups_per_s', 0):,.0f}/s "
            f"({lookups.get('us_per_lookup', 0):.1f} us)",
            flush=True,
        )
        work.opl_path.unlink()
    return rows


def chain_curve(base: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    sets: dict[str, list[bytes]] = {}
    first: workload.Workload | None = None
    for hops in args.hops:
        folder = base / f"hops-{hops}"
        folder.mkdir()
        # Same seed, same list: every set is drawn against the first one's list.
        work = workload.build(folder, args.messages, CHAIN_LIST_ENTRIES, hops=(hops, hops))
        first = first or work
        sets[str(hops)] = work.messages
    assert first is not None
    served = serve(base / f"hops-{args.hops[0]}", first, sets, args)
    rows = []
    for hops in args.hops:
        row = {"hops": hops, **served[str(hops)]}
        rows.append(row)
        print(
            f"hops {hops:>3}: {row['msgs_per_s']:6.0f} msgs/s  "
            f"cpu/msg {row['server_cpu_ms_per_msg']:.3f} ms  p99 {row['p99_ms']:.1f} ms",
            flush=True,
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--hops", default="1,2,4,8,16,32,50")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=100_000, help="0: skip")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--lookups-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lookups_child:
        print(json.dumps(lookups_child(*args.lookups_child)))
        return 0
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.hops = [int(h) for h in args.hops.split(",") if h]
    report: dict[str, Any] = {"command": " ".join(["python", "-m", "bench.curves", *sys.argv[1:]])}
    with tempfile.TemporaryDirectory(prefix="oplguard-curves-") as tmp:
        base = Path(tmp)
        if args.sizes:
            report["list_size"] = size_curve(base, args)
        if args.hops:
            report["chain_length"] = chain_curve(base, args)
    sizes = report.get("list_size", [])
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        report["largest_vs_smallest_msgs_per_s"] = big["msgs_per_s"] / small["msgs_per_s"]
        print(
            f"{big['list_entries']:,} entries: {report['largest_vs_smallest_msgs_per_s']:.2f}x "
            f"the msgs/s of {small['list_entries']:,}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
