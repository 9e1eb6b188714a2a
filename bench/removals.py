"""Removal decisions and list edits on a big list: milliseconds per approve/deny/add/remove.

    .venv/bin/python -m bench.removals [--lines 10000000] [--rounds 20] [--json out.json]
                                       [--rewrite]

Writes a seeded plain list (``bench.scale``'s generator: IPv4 /32s with a /24
every 20th line), loads it once as the web service does, then times, with a
real SQLite removal store: ``approve`` of a request for an address with its
own line and of one inside a listed /24 (decision, lock, edit, outcome),
``deny``, ``ListStore.add_entry`` and ``remove_entry``.  With ``--rewrite``
it also times one approval the way small lists are edited (the whole file
parsed and rewritten), for comparison.  At the end the file is loaded fresh
and every delisted address checked.  Bounded by its arguments.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.scale import write_list
from oplguard.config.model import ListConfig
from oplguard.lists.block import load_list
from oplguard.lists.spans import find
from oplguard.lists.store import ListStore
from oplguard.removals.model import Contact
from oplguard.removals.review import approve, deny
from oplguard.removals.store import RemovalStore
from oplguard.storage.db import Database

NOW = datetime(2026, 12, 1, tzinfo=UTC).timestamp()


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def pick(lists: ListStore, count: int) -> tuple[list[str], list[str]]:
    """Listed /32s no other entry covers, and addresses inside listed /24s."""
    entries = lists.snapshot.lists[0].entries
    columns = entries.columns  # type: ignore[attr-defined]
    own: list[str] = []
    inside: list[str] = []
    for index in range(0, len(entries), 997):
        network = entries[index].network
        if "/" in network and len(inside) < count:
            inside.append(network.split("/")[0].rsplit(".", 1)[0] + ".77")
        elif "/" not in network and len(own) < 2 * count + 1:
            value = int.from_bytes(bytes(int(part) for part in network.split(".")), "big")
            if find(columns, (4, value, value))[1] == 0:
                own.append(network)
        if len(own) > 2 * count and len(inside) >= count:
            break
    return own, inside


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples), 2),
        "max_ms": round(max(samples), 2),
    }


def run(folder: Path, lines: int, rounds: int, rewrite: bool) -> dict[str, Any]:
    path = folder / "big.txt"
    write_list(path, lines, 0, "plain")
    lists = ListStore([ListConfig("big", path, "open-proxy")])
    load_ms = timed(lists.load)
    store = RemovalStore(Database(f"sqlite:///{folder / 'removals.db'}"))
    own, inside = pick(lists, rounds)
    times: dict[str, list[float]] = {key: [] for key in ("approve", "approve-inside", "deny")}
    times |= {"add": [], "remove": []}

    def request(ip: str) -> str:
        return store.submit(ip, ["big"], Contact("p@example.net", "fixed", "198.51.100.1", NOW))[
            0
        ].id

    def decide(kind: str, ip: str) -> None:
        rid = request(ip)
        if kind == "deny":
            times[kind].append(timed(lambda: deny(store, rid, note="", actor="b", now=NOW)))
        else:
            call = lambda: approve(store, lists, rid, note="", actor="b", now=NOW)  # noqa: E731
            times[kind].append(timed(call))

    for number in range(rounds):
        decide("approve", own[number])
        decide("approve-inside", inside[number])
        decide("deny", own[rounds + number])
        times["remove"].append(timed(lambda n=number: lists.remove_entry("big", own[rounds + n])))
    for number in range(rounds):  # adds last: the loaded list learns them at the next reload
        times["add"].append(timed(lambda n=number: lists.add_entry("big", f"203.0.113.{n}")))
    result: dict[str, Any] = {
        "lines": lines,
        "size_mib": round(path.stat().st_size / 2**20, 1),
        "load_ms": round(load_ms),
    }
    result |= {key: summary(samples) for key, samples in times.items()}
    if rewrite:
        lists.reload()
        lists.append_from_bytes = 1 << 40  # edit as small lists are: parse and rewrite
        result["approve-rewrite"] = {"ms": round(timed(lambda: decide("approve", own[2 * rounds])))}
    block = load_list(lists.configs[0])
    delisted = own[:rounds] + inside + own[rounds : 2 * rounds]
    still = [ip for ip in delisted if block.lookup(ip) is not None]
    assert not still, f"delisted but listed after a fresh load: {still[:5]}"
    store.db.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--rewrite", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oplguard-removals-") as folder:
        result = run(Path(folder), args.lines, args.rounds, args.rewrite)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
