"""The operations page's cost on a big tracking store: summary time by window and host filter.

Fills a SQLite store with ``--messages`` synthetic records spread over the last
``--days`` (two relay IPs each, a tenth of them listed, three hosts), then times
``Summarizer.summary`` (tracking/summary.py) for each window, all hosts and one.
The summary reads at most MAX_SCAN_ROWS messages, so its time stops growing
with the store; this shows where it stops.

    .venv/bin/python -m bench.opssummary --messages 1000000 --days 7 --db /tmp/big.db
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from oplguard.storage.db import Database
from oplguard.tracking.record import COLUMNS
from oplguard.tracking.store import TrackingStore
from oplguard.tracking.summary import MAX_SCAN_ROWS, WINDOWS, Summarizer, Window

BATCH = 50_000
HOSTS = ("mx1", "mx2", "mx3")


def fill(db_url: str, messages: int, days: float, seed: int = 3) -> None:
    """``messages`` records over the last ``days``, oldest first, in batches."""
    rng, now = random.Random(seed), time.time()
    store = TrackingStore.open(db_url)
    marks = ", ".join("?" * len(COLUMNS))
    insert = f"INSERT INTO oplguard_messages ({', '.join(COLUMNS)}) VALUES ({marks})"
    insert_ip = "INSERT INTO oplguard_message_ips (record_id, ip, hop, result) VALUES (?, ?, ?, ?)"
    for start in range(0, messages, BATCH):
        rows, ips = [], []
        for n in range(start, min(messages, start + BATCH)):
            at = now - days * 86400 * (1 - n / messages)
            listed = rng.random() < 0.1
            ip = f"198.18.{rng.randrange(256)}.{rng.randrange(256)}"
            rid = f"r{n:09d}"
            rows.append((rid, at, HOSTS[n % 3], f"<{n}@x>", "", "", "", ip,
                         "delete" if listed else "pass", 0.0, 5.0, ip if listed else "",
                         2 if listed else 0, "opl" if listed else "", "", "{}"))  # fmt: skip
            ips += [
                (rid, "192.0.2.10", 1, "clean"),
                (rid, ip, 2, "listed:opl" if listed else "clean"),
            ]
        store.db.write_all([(insert, rows), (insert_ip, ips)])
    store.close()


def timed(db: Database, window: Window, host: str) -> dict[str, object]:
    started = time.perf_counter()
    got = Summarizer(db).summary(window, host)
    return {"seconds": round(time.perf_counter() - started, 3), "messages": got.messages,
            "cut": got.is_cut}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.opssummary", description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--db", type=Path, required=True, help="a new SQLite file")
    args = parser.parse_args()
    url = f"sqlite:///{args.db}"
    if not args.db.exists():
        started = time.perf_counter()
        fill(url, args.messages, args.days)
        print(f"filled {args.messages} messages in {time.perf_counter() - started:.0f} s")
    db, now = Database(url), time.time()
    results = {"max_scan_rows": MAX_SCAN_ROWS, "windows": {}}
    for name in WINDOWS:
        window = Window.named(name, now)
        results["windows"][name] = {  # type: ignore[index]
            "all hosts": timed(db, window, ""), "one host": timed(db, window, "mx2")
        }  # fmt: skip
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
