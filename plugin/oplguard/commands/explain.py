"""``oplguard explain``: the relay chain and verdict of a saved message."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from oplguard.commands.arguments import add_config, add_json, add_sa_config
from oplguard.commands.loading import build_scanner, load_config
from oplguard.errors import InputError
from oplguard.policy.explain import explain_text
from oplguard.policy.scanner import Scan
from oplguard.textsafe import printable_lines

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers


def register(sub: SubParsers) -> None:
    explain = sub.add_parser("explain", help="show the relay chain and verdict of a saved message")
    explain.add_argument("file", metavar="FILE", help="message file, or - for standard input")
    add_json(explain, "one JSON object (schema in the README)")
    add_config(explain)
    add_sa_config(explain)
    explain.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    scan: Scan = build_scanner(cfg).scan(read_message(args.file))
    if args.json:
        print(json.dumps(scan.as_dict(), indent=2))
    else:
        print(printable_lines(explain_text(scan)))  # header text from the message
    return 0


def read_message(name: str) -> bytes:
    """The message in file ``name``, or standard input for ``-``.

    Raises:
        InputError: the file cannot be read.
    """
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {name}: {err.strerror}") from err
