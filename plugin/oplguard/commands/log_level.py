"""``oplguard log-level``: show or set the running service's log levels (control socket)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from oplguard.commands.arguments import add_config, add_json
from oplguard.commands.asking import UsageError, answered, socket_path, worker_lines
from oplguard.control.client import ask
from oplguard.levelnames import level_name
from oplguard.observability.durations import parse_duration
from oplguard.observability.levels import COMPONENTS, check_component, parse_level

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers


def register(sub: SubParsers) -> None:
    level = sub.add_parser(
        "log-level", help="show or set the running service's log levels (control socket)"
    )
    level.add_argument(
        "words",
        nargs="*",
        metavar="[COMPONENT] LEVEL",
        help="none: show the levels; LEVEL: set all; COMPONENT LEVEL: set one "
        f"({' '.join(COMPONENTS)})",
    )
    level.add_argument(
        "--for", dest="duration", metavar="DURATION", help="revert by itself after this: 30m, 2h"
    )
    add_json(level)
    add_config(level)
    level.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return answered("log-level", _call, args)


def _call(args: argparse.Namespace) -> int:
    request = level_request(list(args.words), args.duration)
    reply = ask(socket_path(args), request)
    print(json.dumps(reply, indent=2) if args.json else levels_text(reply))
    return 0


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


def levels_text(reply: dict[str, Any]) -> str:
    lines = [f"{c:<9} {reply['levels'].get(c, '?')}" for c in COMPONENTS]
    if "previous" in reply:
        lines.append("was: " + ", ".join(f"{c}={v}" for c, v in reply["previous"].items()))
        if reply.get("revert_at"):
            lines.append(f"reverts at {reply['revert_at']}")
    for revert in reply.get("reverts", []):
        lines.append(f"pending: {revert['component']} -> {revert['level']} at {revert['at']}")
    lines += worker_lines(reply, "levels")
    return "\n".join(lines)
