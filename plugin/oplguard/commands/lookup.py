"""``oplguard lookup``: which lists an IP is on, and its allow state."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from oplguard.commands.arguments import add_config, add_json, typed_ip
from oplguard.commands.loading import build_scanner, load_config
from oplguard.policy.explain import lookup_text
from oplguard.policy.lookup import lookup_ip

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers


def register(sub: SubParsers) -> None:
    lookup = sub.add_parser("lookup", help="show which lists an IP is on, and its allow state")
    lookup.add_argument("ip", metavar="IP", help="one IPv4 or IPv6 address")
    add_json(lookup)
    add_config(lookup)
    lookup.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    scanner = build_scanner(cfg)
    result = lookup_ip(scanner, typed_ip(args.ip), datetime.now(UTC))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(lookup_text(result))
    return 0
