"""List scale: load time, memory and lookups/s for big lists (issue 3).

    .venv/bin/python -m bench.scale [--v4 10000000] [--v6 1000000] [--lookups 200000]
                                    [--format plain|ip4set] [--json out.json]

Writes a seeded list file (IPv4 /32s and CIDRs in 198.18.0.0/15 and across
the address space, IPv6 /48../64 prefixes in 2001:db8::/32 and beyond), then
in a fresh child process loads it with ``load_list`` exactly as the service
does and reports wall time, peak RSS and the RSS the loaded list holds, and
lookups/s for random addresses (hits and misses).  Bounded by its arguments.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SEED = 20261203


def write_list(path: Path, v4: int, v6: int, fmt: str) -> None:
    """A list of ``v4`` IPv4 and ``v6`` IPv6 entries, one a line, some with reasons."""
    rng = random.Random(SEED)
    with path.open("w", encoding="ascii") as out:
        for i in range(v4):
            value = rng.getrandbits(32)
            if i % 20 == 0 and fmt == "plain":
                value &= 0xFFFFFF00
            text = f"{value >> 24}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"
            if i % 20 == 0 and fmt == "plain":
                text += "/24"
            reason = " open proxy seen 2026-11-01" if i % 7 == 0 else ""
            out.write(f"{text}{reason if fmt == 'plain' else ''}\n")
        if fmt != "plain":
            return
        for i in range(v6):
            words = [0x2001, 0xDB8 + (i % 64), rng.getrandbits(16), rng.getrandbits(16)]
            prefix = 64 if i % 2 else 48
            if prefix == 48:
                words = words[:3]
            out.write(":".join(f"{w:x}" for w in words) + f"::/{prefix}\n")


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def child(path: str, fmt: str, lookups: int) -> dict[str, Any]:
    """Runs in a fresh interpreter: load, measure, look up."""
    from oplguard.config.model import ListConfig
    from oplguard.lists.block import load_list

    before = rss_kib()
    started, cpu = time.perf_counter(), time.process_time()
    block = load_list(ListConfig(name="big", path=Path(path), format=fmt))
    load_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    held = rss_kib() - before
    rng = random.Random(SEED + 1)
    probes = [
        f"{rng.getrandbits(8)}.{rng.getrandbits(8)}.{rng.getrandbits(8)}.{rng.getrandbits(8)}"
        for _ in range(lookups)
    ]
    hits = 0
    started = time.perf_counter()
    for ip in probes:
        if block.lookup(ip) is not None:
            hits += 1
    lookup_s = time.perf_counter() - started
    return {
        "entries": len(block.entries),
        "intervals": len(block.networks),
        "load_s": round(load_s, 2),
        "load_cpu_s": round(cpu_s, 2),  # the machine may be shared: CPU time says more
        "held_mib": round(held / 1024, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "lookups_per_s": round(lookups / lookup_s),
        "lookup_hit_rate": round(hits / lookups, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--v4", type=int, default=10_000_000)
    parser.add_argument("--v6", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--format", choices=["plain", "ip4set"], default="plain")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.format, args.lookups)))
        return
    with tempfile.TemporaryDirectory(prefix="oplguard-scale-") as folder:
        path = Path(folder) / "big.txt"
        started = time.perf_counter()
        write_list(path, args.v4, args.v6, args.format)
        size_mib = path.stat().st_size / 2**20
        print(
            f"wrote {args.v4:,} IPv4 + {args.v6:,} IPv6 entries ({size_mib:.0f} MiB) "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.scale",
                "--child",
                str(path),
                "--format",
                args.format,
                "--lookups",
                str(args.lookups),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    result = {"v4": args.v4, "v6": args.v6, "file_mib": round(size_mib), **json.loads(out.stdout)}
    for key, value in result.items():
        print(f"{key:>16}: {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
