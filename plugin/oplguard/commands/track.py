"""``oplguard track``: search the tracking database and say why, per message.

Reads the database named by the config directly, so it works whether or not
the service runs (SQLite in WAL mode lets it read while the service writes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from oplguard.commands.arguments import add_config, add_json, typed_ip
from oplguard.commands.loading import config_path
from oplguard.config import loader as config_loader
from oplguard.config.vocabulary import Action, words
from oplguard.errors import Status
from oplguard.ipaddr import canonical_address
from oplguard.observability.durations import parse_duration
from oplguard.storage.db import StoreError
from oplguard.textsafe import printable_lines
from oplguard.tracking.report import record_text
from oplguard.tracking.store import Filter, TrackingStore

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers

ACTIONS = words(Action)
# --since reaches back further than a revert may last.
SINCE_LIMIT_S = 10 * 365 * 86400.0


def register(sub: SubParsers) -> None:
    track = sub.add_parser("track", help="search tracked messages: why was it rejected?")
    track.add_argument(
        "--message-id", metavar="ID", help="this Message-ID, with or without <angle brackets>"
    )
    track.add_argument("--ip", metavar="IP", help="this IP seen at any hop")
    track.add_argument(
        "--sender", metavar="ADDR", help="envelope sender or From address, or @domain"
    )
    track.add_argument(
        "--recipient", metavar="ADDR", help="spamd user or To/Cc address, or @domain"
    )
    track.add_argument("--queue-id", metavar="ID", help="the MTA's queue id of the message")
    track.add_argument("--action", choices=ACTIONS, help="only messages given this action")
    track.add_argument("--since", metavar="WHEN", help="1h, 2d or an ISO time (UTC if no zone)")
    track.add_argument("--host", metavar="HOST", help="only records written by this host")
    track.add_argument(
        "--limit", type=int, default=100, metavar="N", help="at most N records (default 100)"
    )
    add_json(track)
    add_config(track)
    track.set_defaults(func=run)


def since_epoch(text: str, now: float) -> float:
    """``1h`` (that long ago) or an ISO date/time (UTC if no zone) as epoch seconds.

    Raises:
        ValueError: neither.
    """
    try:
        return now - parse_duration(text, max_s=SINCE_LIMIT_S)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError as err:
        raise ValueError(f"bad --since {text!r}: write 1h, 30m, 2d or 2026-05-01T12:00") from err
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def make_filter(args: argparse.Namespace) -> Filter:
    """The search the arguments ask for.

    Raises:
        ValueError: a bad IP or --since.
    """
    ip = canonical_address(args.ip) if args.ip else ""
    return Filter(
        message_id=(args.message_id or "").strip(),
        ip=ip,
        action=args.action or "",
        host=args.host or "",
        since=since_epoch(args.since, time.time()) if args.since else 0.0,
        limit=args.limit,
        sender=args.sender or "",
        recipient=args.recipient or "",
        queue_id=(args.queue_id or "").strip(),
    )


def run(args: argparse.Namespace) -> int:
    if args.ip:
        args.ip = typed_ip(args.ip)
    try:  # the command line first: a usage error is one whatever the config says
        where = make_filter(args)
    except ValueError as err:
        print(f"oplguard track: {err}", file=sys.stderr)
        return int(Status.EX_USAGE)
    path = config_path(args.config)
    cfg = config_loader.load(path)
    if not cfg.tracking_db:
        print(f"oplguard track: {path}: tracking_db is not set", file=sys.stderr)
        return int(Status.EX_UNAVAILABLE)
    try:
        store = TrackingStore.open(cfg.tracking_db)
        try:
            found = store.search(where)
        finally:
            store.close()
    except StoreError as err:
        print(f"oplguard track: {err}", file=sys.stderr)
        return int(Status.EX_UNAVAILABLE)
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        text = "\n\n".join(record_text(r) for r in found) if found else "no matching records"
        print(printable_lines(text))  # Message-IDs and addresses came from mail
    return 0
