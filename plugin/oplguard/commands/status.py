"""``oplguard status``: uptime, lists, levels and counters of the running service."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from oplguard.commands.arguments import add_config, add_json
from oplguard.commands.asking import answered, socket_path, worker_lines
from oplguard.control.client import ask
from oplguard.tracking.report import status_line

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers


def register(sub: SubParsers) -> None:
    status = sub.add_parser("status", help="uptime, lists, levels and counters of the service")
    add_json(status)
    add_config(status)
    status.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return answered("status", _call, args)


def _call(args: argparse.Namespace) -> int:
    reply = ask(socket_path(args), {"cmd": "status"})
    print(json.dumps(reply, indent=2) if args.json else status_text(reply))
    return 0


def status_text(s: dict[str, Any]) -> str:
    up = int(s["uptime_s"])
    uptime = f"{up // 3600}h{up % 3600 // 60:02d}m{up % 60:02d}s"
    lines = [
        f"oplguard {s['version']} on {s['host']}, up {uptime}",
        f"listening: {', '.join(s['listening']) or '-'}; open connections: {s['connections_open']}",
        "lists: " + (", ".join(f"{x['name']} ({x['entries']})" for x in s["lists"]) or "none"),
        "levels: " + ", ".join(f"{c}={v}" for c, v in s["levels"].items()),
    ]
    if s.get("workers"):
        each = (f"pid {w['pid']}: {w.get('connections_open', '?')} open" for w in s["workers"])
        lines.append(
            f"workers: {len(s['workers'])} ({', '.join(each)}); "
            "connections, counters and tracking are their totals"
        )
        lines += ["  " + line for line in worker_lines(s, "levels")]
    lines += [f"  reverts {r['component']} to {r['level']} at {r['at']}" for r in s["reverts"]]
    lines += [
        f"  tracing ip={t['ip'] or '-'} sender={t['sender'] or '-'} until {t['until']}"
        for t in s["traces"]
    ]
    for name, values in sorted(s["counters"].items()):
        lines.append(f"{name}: " + ", ".join(f"{k}={v:g}" for k, v in sorted(values.items())))
    tracking = s.get("tracking")
    if tracking is None:
        lines.append("tracking: off (no tracking_db)")
    else:
        lines.append(status_line(tracking, time.time()))
    if s.get("metrics"):
        lines.append(f"metrics: {s['metrics']}")
    return "\n".join(lines)
