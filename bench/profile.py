"""In-process profile of the scoring path, without sockets.

    .venv/bin/python -m bench.profile [--messages 2000] [--list-entries 100000]
        [--hops 1,8] [--rounds 3] [--pyinstrument]

Builds the server as ``oplguard serve`` does (``server.lifecycle.Server``:
config, lists, scanner, observability hooks) and calls
``ScoringService.respond`` for every workload message, ``--rounds`` times.
Prints microseconds per message; with ``--pyinstrument`` (PyPI, the
``bench`` extra) also the call tree, which is what docs/performance.md quotes;
with ``--parts`` the CPU of each stage, fastest of 5 runs (stable enough on a
busy machine to compare a change against its parent).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import competitors, workload
from oplguard.config import loader as config_loader
from oplguard.spamd.messages import Request, Verb

PART_REPEATS = 5


def best_us(work: Callable[[], object], count: int) -> float:
    """Microseconds per item of the fastest of ``PART_REPEATS`` runs (noise only adds)."""
    best = float("inf")
    for _ in range(PART_REPEATS):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best * 1e6 / count


async def parts(server: Any, requests: list[Request]) -> None:
    """CPU per message of each stage, fastest of several runs: stable on a busy machine."""
    from oplguard.mail.headers import header_fields
    from oplguard.mail.received import parse_received
    from oplguard.mail.relays import build_chain

    scanner = server.service.scanner
    bodies = [r.body for r in requests]
    received = [
        value for body in bodies for name, value in header_fields(body) if name == "Received"
    ]
    count = len(bodies)
    stages: list[tuple[str, Callable[[], object]]] = [
        ("header_fields", lambda: [header_fields(b) for b in bodies]),
        ("parse_received (all hops)", lambda: [parse_received(v) for v in received]),
        ("build_chain", lambda: [build_chain(b, scanner.trust) for b in bodies]),
        ("Scanner.scan", lambda: [scanner.scan(b) for b in bodies]),
    ]
    for name, work in stages:
        print(f"{name:<28} {best_us(work, count):8.1f} us/msg", flush=True)

    async def respond() -> None:
        for request in requests:
            await server.service.respond(request)

    best = float("inf")
    for _ in range(PART_REPEATS):
        started = time.process_time()
        await respond()
        best = min(best, time.process_time() - started)
    print(f"{'ScoringService.respond':<28} {best * 1e6 / count:8.1f} us/msg", flush=True)


async def respond_all(
    folder: Path, work: workload.Workload, rounds: int, profile: bool, stages: bool
) -> None:
    from oplguard.server.lifecycle import Server

    cfg = config_loader.load(competitors.write_oplguard_config(folder, work, 0, 1))
    server = Server(cfg)
    requests = [Request(Verb.CHECK, (1, 5), body=m, user="bench") for m in work.messages]
    for request in requests[:200]:  # warm caches and imports
        await server.service.respond(request)
    if stages:
        await parts(server, requests)
        return
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for request in requests:
            await server.service.respond(request)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    count = rounds * len(requests)
    print(
        f"{count} responses: {cpu * 1e6 / count:.0f} us CPU per message "
        f"({elapsed * 1e6 / count:.0f} us wall, one process)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--list-entries", type=int, default=100_000)
    parser.add_argument("--hops", default="1,8", help="min,max hops per message")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--parts", action="store_true", help="CPU per stage, best of 5")
    args = parser.parse_args()
    low, high = (int(h) for h in args.hops.split(","))
    with tempfile.TemporaryDirectory(prefix="oplguard-profile-") as tmp:
        folder = Path(tmp)
        work = workload.build(folder, args.messages, args.list_entries, hops=(low, high))
        asyncio.run(respond_all(folder, work, args.rounds, args.pyinstrument, args.parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
