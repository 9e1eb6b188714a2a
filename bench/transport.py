"""The transport alone: oplguard's own server with the scan replaced by a fixed reply.

    .venv/bin/python -m bench.transport [--requests 3000] [--concurrency 8,32] [--rounds 2]
        [--before /path/to/other/checkout/plugin]

Each round runs, one after the other on the same seeded workload: ``oplguard-fixed``
(``oplguard serve``'s shell, listeners, admission, deadlines, metrics and connection
handling, with ``ScoringService.respond`` answering a fixed reply), ``ceiling`` (bench.ceiling:
asyncio streams on asyncio's own loop, as in ``bench.run``) and ``floor`` (a bare
``asyncio.Protocol`` on uvloop: what answering a connection costs at least here).
``--before`` adds ``oplguard-fixed-before``: the same with another checkout's code (its
``plugin/`` directory put first on ``PYTHONPATH``), for interleaved A/B runs.
Prints server CPU per message (user + system) and msgs/s per point.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from bench import competitors, workload
from bench.load import closed_loop
from bench.procstat import cpu_seconds

REPLY = b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"
WARM_UP = 300


def serve_fixed(config: str) -> None:
    """``oplguard serve`` with every scan answered by REPLY (the child process)."""
    from oplguard.config import loader as config_loader
    from oplguard.server import service, workers
    from oplguard.server.lifecycle import Server

    async def fixed(self: service.ScoringService, request: object) -> bytes:
        del self, request
        return REPLY

    service.ScoringService.respond = fixed  # type: ignore[method-assign]

    async def main() -> None:
        server = Server(config_loader.load(Path(config)))
        await server.start()
        await server.stopping.wait()

    workers.run(main())


def measure(
    name: str,
    command: list[str],
    env: dict[str, str],
    work: workload.Workload,
    port: int,
    args: argparse.Namespace,
) -> str:
    """CPU per message and msgs/s of the server ``command`` starts, per concurrency."""
    with competitors._running(name, command, port, env=env) as server:
        pid = server.pid
        asyncio.run(closed_loop("127.0.0.1", port, work.messages, 8, WARM_UP))
        cells = []
        for concurrency in args.concurrency:
            before = cpu_seconds(pid)
            result = asyncio.run(
                closed_loop("127.0.0.1", port, work.messages, concurrency, args.requests)
            )
            summary = result.summary()
            per_msg = (cpu_seconds(pid) - before) / max(1, int(summary["requests"])) * 1000
            cells.append(
                f"c={concurrency}: {per_msg:.3f} ms/msg {summary['msgs_per_s']:.0f}/s"
                f" failures={result.failures}"
            )
        return " | ".join(cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--before", type=Path, help="another checkout's plugin/ directory")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="oplguard-transport-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        work = workload.build(folder, 300, 2000)
        base = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        for round_no in range(1, args.rounds + 1):
            variants: list[tuple[str, dict[str, str]]] = [("oplguard-fixed", base)]
            if args.before is not None:
                before_env = {**base, "PYTHONPATH": str(args.before)}
                variants.insert(0, ("oplguard-fixed-before", before_env))
            for name, env in [*variants, ("ceiling", base), ("floor", base)]:
                port = competitors.free_port()
                if name == "ceiling":
                    command = [python, "-m", "bench.ceiling", str(port)]
                elif name == "floor":
                    command = [python, "-m", "bench.ceiling", str(port), "--floor"]
                else:
                    config = competitors.write_oplguard_config(
                        folder / f"{name}-{round_no}", work, port, 1, False
                    )
                    command = [python, "-m", "bench.transport", "--serve", str(config)]
                load = os.getloadavg()[0]
                print(f"round {round_no} {name:<22} load {load:4.1f}  "
                      f"{measure(name, command, env, work, port, args)}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve_fixed(sys.argv[2])
    else:
        raise SystemExit(main())
