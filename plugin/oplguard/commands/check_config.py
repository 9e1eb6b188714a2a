"""``oplguard check-config``: check a config file and its lists."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from oplguard.commands.loading import build_scanner
from oplguard.config import loader as config_loader
from oplguard.policy.checks import config_warnings

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers


def register(sub: SubParsers) -> None:
    check = sub.add_parser("check-config", help="check a config file and its lists")
    check.add_argument("file", metavar="FILE", help="the config file to check")
    check.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = config_loader.load(Path(args.file))
    scanner = build_scanner(cfg)
    for warning in config_warnings(cfg, datetime.now(UTC)):
        print(f"warning: {warning}", file=sys.stderr)
    total = sum(len(item.entries) for item in scanner.lists.snapshot.lists)
    print(
        f"{args.file}: OK ({len(cfg.lists)} lists, {total} entries, "
        f"{len(cfg.groups)} groups, {len(cfg.allowed_senders)} allowed senders, "
        f"{len(cfg.blocked_senders)} blocked senders)"
    )
    return 0
