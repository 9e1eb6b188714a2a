"""``oplguard log-level``, ``trace`` and ``status``: ask the running service (control socket).

Exit codes (the Ansible role relies on them): 0 done, 64 usage (bad level,
component or duration), 69 the service cannot be reached (no socket,
refused, foreign-owned socket), 65 the service rejected the request.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from oplguard import config as config_mod
from oplguard.control.client import ControlError, ask
from oplguard.errors import Status
from oplguard.observability.durations import parse_duration
from oplguard.observability.levels import COMPONENTS, check_component, level_name, parse_level
from oplguard.tracking.report import status_line

# A list in one of these states makes ``lists status`` exit EX_DATAERR (65): a file
# whose last reload failed (the service serves the last good version) or never loaded.
LIST_ERROR_STATES = frozenset({"error", "missing"})


class UsageError(ControlError):
    def __init__(self, message: str) -> None:
        super().__init__(message, Status.EX_USAGE)


def socket_path(args: argparse.Namespace, config_path: Path) -> Path:
    """The control socket named by the config.

    Raises:
        ControlError: the config names none (EX_UNAVAILABLE).
    """
    cfg = config_mod.load(config_path)
    if not cfg.control_socket:
        raise ControlError(f"{config_path}: control_socket is not set, so there is nothing to ask")
    return Path(cfg.control_socket)


def level_request(words: list[str], duration: str | None) -> dict[str, Any]:
    """The control request for ``[COMPONENT] LEVEL [--for D]``; none = read the levels.

    Raises:
        UsageError: too many words, an unknown component or level, a bad duration.
    """
    if not words:
        if duration:
            raise UsageError("--for needs a LEVEL")
        return {"cmd": "levels"}
    if len(words) > 2:
        raise UsageError("usage: oplguard log-level [COMPONENT] LEVEL [--for DURATION]")
    component = words[0].lower() if len(words) == 2 else "all"
    try:
        if component != "all":
            check_component(component)
        parse_level(words[-1])
        if duration:
            parse_duration(duration)
    except ValueError as err:
        raise UsageError(str(err)) from err
    return {
        "cmd": "set-level",
        "component": None if component == "all" else component,
        "level": level_name(words[-1]),
        "for": duration or "",
    }


def run(name: str, call: Any, args: argparse.Namespace) -> int:
    """Run one command; a ControlError is one line on stderr and its exit code."""
    try:
        return int(call(args))
    except ControlError as err:
        print(f"oplguard {name}: {err}", file=sys.stderr)
        return int(err.status)


def cmd_log_level(args: argparse.Namespace, config_path: Path) -> int:
    def call(args: argparse.Namespace) -> int:
        request = level_request(list(args.words), args.duration)
        reply = ask(socket_path(args, config_path), request)
        print(json.dumps(reply, indent=2) if args.json else levels_text(reply))
        return 0

    return run("log-level", call, args)


def levels_text(reply: dict[str, Any]) -> str:
    lines = [f"{c:<9} {reply['levels'].get(c, '?')}" for c in COMPONENTS]
    if "previous" in reply:
        lines.append("was: " + ", ".join(f"{c}={v}" for c, v in reply["previous"].items()))
        if reply.get("revert_at"):
            lines.append(f"reverts at {reply['revert_at']}")
    for revert in reply.get("reverts", []):
        lines.append(f"pending: {revert['component']} -> {revert['level']} at {revert['at']}")
    lines += _worker_lines(reply, "levels")
    return "\n".join(lines)


def _worker_lines(reply: dict[str, Any], key: str) -> list[str]:
    """With pre-forked workers: one that did not answer, or whose ``key`` differs, is shown."""
    rows = reply.get("workers") or []
    out = []
    for row in rows:
        if "error" in row:
            out.append(f"worker {row['slot']} (pid {row['pid']}) did not answer: {row['error']}")
        elif key in row and row[key] != reply.get(key):
            out.append(f"worker {row['slot']} (pid {row['pid']}) differs: {row[key]}")
    return out


def cmd_trace(args: argparse.Namespace, config_path: Path) -> int:
    def call(args: argparse.Namespace) -> int:
        if not args.ip and not args.sender:
            raise UsageError("give --ip IP and/or --sender ADDR")
        try:
            parse_duration(args.duration)
        except ValueError as err:
            raise UsageError(str(err)) from err
        request = {"cmd": "trace", "ip": args.ip or "", "sender": args.sender or ""}
        if args.stop:
            request["stop"] = True
        reply = ask(socket_path(args, config_path), {**request, "for": args.duration})
        if args.json:
            print(json.dumps(reply, indent=2))
        elif args.stop:
            for trace in reply["stopped"]:
                print(f"stopped tracing ip={trace['ip'] or '-'} sender={trace['sender'] or '-'}")
        else:
            trace = reply["trace"]
            print(
                f"tracing ip={trace['ip'] or '-'} sender={trace['sender'] or '-'} "
                f"until {trace['until']}; debug lines carry [trace=...]"
            )
        return 0

    return run("trace", call, args)


def cmd_lists_status(args: argparse.Namespace, config_path: Path) -> int:
    from oplguard.lists.status import status_text as lists_text

    def call(args: argparse.Namespace) -> int:
        reply = ask(socket_path(args, config_path), {"cmd": "lists"})
        print(json.dumps(reply["lists"], indent=2) if args.json else lists_text(reply["lists"]))
        broken = [row["name"] for row in reply["lists"] if row.get("state") in LIST_ERROR_STATES]
        if broken:
            print(f"oplguard lists status: in error: {', '.join(broken)}", file=sys.stderr)
            return int(Status.EX_DATAERR)
        return 0

    return run("lists status", call, args)


def cmd_status(args: argparse.Namespace, config_path: Path) -> int:
    def call(args: argparse.Namespace) -> int:
        reply = ask(socket_path(args, config_path), {"cmd": "status"})
        print(json.dumps(reply, indent=2) if args.json else status_text(reply))
        return 0

    return run("status", call, args)


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
        lines += ["  " + line for line in _worker_lines(s, "levels")]
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
