"""``oplguard trace``: full debug detail for messages touching an IP or sender."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from oplguard.commands.arguments import add_config, add_json, typed_ip
from oplguard.commands.asking import UsageError, answered, socket_path
from oplguard.control.client import ask
from oplguard.observability.durations import parse_duration

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers


def register(sub: SubParsers) -> None:
    trace = sub.add_parser("trace", help="full debug detail for messages touching an IP/sender")
    trace.add_argument("--ip", metavar="IP", help="messages with this IP at any hop")
    trace.add_argument("--sender", metavar="ADDR", help="messages from this address, or @domain")
    trace.add_argument(
        "--for",
        dest="duration",
        default="30m",
        metavar="DURATION",
        help="stop by itself after this (default 30m)",
    )
    trace.add_argument(
        "--stop", action="store_true", help="stop the trace of this --ip/--sender now"
    )
    add_json(trace)
    add_config(trace)
    trace.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.ip:
        args.ip = typed_ip(args.ip)
    return answered("trace", _call, args)


def _call(args: argparse.Namespace) -> int:
    if not args.ip and not args.sender:
        raise UsageError("give --ip IP and/or --sender ADDR")
    try:
        parse_duration(args.duration)
    except ValueError as err:
        raise UsageError(str(err)) from err
    request = {"cmd": "trace", "ip": args.ip or "", "sender": args.sender or ""}
    if args.stop:
        request["stop"] = True
    reply = ask(socket_path(args), {**request, "for": args.duration})
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
