#!/usr/bin/env python3
"""Continuous spamc load against oplguard hosts until a stop file appears (fleet scenario).

Usage: spamc-load.py STOP_FILE MESSAGE HOST[:PORT] ...
One thread per host runs the real spamc (-x: an error is an error, never a pass-through;
-c: the score) one request after the other, PAUSE_S apart. Ends when STOP_FILE exists (or
after MAX_SECONDS),
prints one JSON line {"requests": N, "failed": M, "per_host": {...}, "errors": [...]} and exits
1 when a request failed. A request fails when spamc exits with anything but 0 or 1 or prints
no "score/threshold".
"""

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

MAX_SECONDS = 900
# Between two requests of one host: continuous load that leaves the 2 CI cores to the rollout
# (unpaced, spamc made ~330 requests/s and slowed the rollout itself).
PAUSE_S = 0.05
SPAMC_TIMEOUT_S = 60
SCORE = re.compile(rb"^-?[0-9.]+/[0-9.]+\s*$")


def load(
    host: str,
    port: str,
    message: bytes,
    stop: Path,
    counts: dict[str, list[int]],
    errors: list[str],
) -> None:
    deadline = time.monotonic() + MAX_SECONDS
    ok = failed = 0
    while not stop.exists() and time.monotonic() < deadline:
        done = subprocess.run(
            ["spamc", "-d", host, "-p", port, "-x", "-c", "-t", str(SPAMC_TIMEOUT_S)],
            input=message,
            capture_output=True,
            check=False,
        )
        if done.returncode in (0, 1) and SCORE.match(done.stdout):
            ok += 1
        else:
            failed += 1
            errors.append(
                f"{host}: exit {done.returncode} {done.stdout[:80]!r} {done.stderr[:200]!r}"
            )
        counts[host] = [ok, failed]
        time.sleep(PAUSE_S)


def main(stop_file: str, message_file: str, *targets: str) -> int:
    stop, message = Path(stop_file), Path(message_file).read_bytes()
    counts: dict[str, list[int]] = {}
    errors: list[str] = []
    threads = []
    for target in targets:
        host, _, port = target.partition(":")
        thread = threading.Thread(
            target=load, args=(host, port or "783", message, stop, counts, errors)
        )
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    requests = sum(ok + failed for ok, failed in counts.values())
    failed = sum(failed for _ok, failed in counts.values())
    print(
        json.dumps(
            {"requests": requests, "failed": failed, "per_host": counts, "errors": errors[:20]}
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
