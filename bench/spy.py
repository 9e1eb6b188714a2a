"""Profile the real ``oplguard serve`` under load with py-spy (PyPI ``py-spy``).

    .venv/bin/python -m bench.spy [--requests 3000] [--concurrency 8] [--top 30]

Starts the server as ``bench.run`` does, attaches ``py-spy record`` (raw,
collapsed stacks) while the asyncio driver sends the workload, then prints the
functions with the largest share of samples, inclusive and self.  This is
the whole process: transport, protocol, scan, logging, metrics.  Needs ptrace
rights (root, or ``kernel.yama.ptrace_scope = 0``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import competitors, load, workload

SAMPLE_RATE_HZ = 250


def summarize(collapsed: Path, top: int) -> str:
    """Top functions by inclusive and by self share of the samples."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [frame.split(" (")[0] + _where(frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples"]
    for title, table in (("inclusive", inclusive), ("self", own)):
        lines.append(f"-- {title} --")
        for frame, count in table.most_common(top):
            lines.append(f"{100 * count / max(1, total):5.1f}%  {frame}")
    return "\n".join(lines)


def _where(frame: str) -> str:
    """`` (file)`` shortened to the module path under site-packages or the repo."""
    if " (" not in frame:
        return ""
    place = frame.split(" (", 1)[1].rstrip(")")
    for marker in ("site-packages/", "plugin/", "lib/python3.11/"):
        if marker in place:
            place = place.split(marker, 1)[1]
            break
    return f" ({place.split(':')[0]})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--list-entries", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--output", type=Path, help="keep the collapsed stacks here")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    with tempfile.TemporaryDirectory(prefix="oplguard-spy-") as tmp:
        folder = Path(tmp)
        work = workload.build(folder, 2000, args.list_entries)
        raw = args.output or folder / "stacks.txt"
        with competitors.oplguard(folder, work) as server:
            recorder = subprocess.Popen(
                [spy, "record", "--format", "raw", "--rate", str(SAMPLE_RATE_HZ), "--pid",
                 str(server.pid), "--output", str(raw), "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1.0)  # py-spy attaches
            result = asyncio.run(
                load.closed_loop(
                    "127.0.0.1", server.port, work.messages, args.concurrency, args.requests
                )
            )
            recorder.send_signal(2)  # SIGINT: py-spy writes what it has
            recorder.wait(timeout=60)
        print(f"{len(result.latencies)} requests, {result.summary()['msgs_per_s']:.0f} msgs/s")
        print(summarize(raw, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
