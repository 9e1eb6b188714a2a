"""``oplguard removals list|show|approve|deny``: review removal requests from a shell.

The decisions are ``removals/review.py``'s, as for the web admin page.  The actor in
the audit log is ``cli:<login name>``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from oplguard.commands.loading import load_config
from oplguard.config.model import Config
from oplguard.config.vocabulary import words
from oplguard.errors import Status
from oplguard.lists.store import ListStore
from oplguard.removals.model import RemovalRequest, ReviewError
from oplguard.removals.notify import deliver_due, notices
from oplguard.removals.repair import recover
from oplguard.removals.review import approve, deny
from oplguard.removals.store import RemovalStore, open_store
from oplguard.removals.vocabulary import DeliveryStatus, RequestStatus, ReviewAction
from oplguard.textsafe import printable

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers

STATUSES = words(RequestStatus)


def register(sub: SubParsers) -> None:
    """Register ``removals`` and its subcommands on the top-level parser."""
    removals = sub.add_parser(
        "removals", help="review removal requests (list, show, approve, deny)"
    )
    inner = removals.add_subparsers(dest="removals_command", required=True)
    listing = inner.add_parser("list", help="removal requests, newest first")
    listing.add_argument("--status", choices=STATUSES, help="only requests in this state")
    show = inner.add_parser("show", help="one request with its requesters and audit log")
    show.add_argument("id", metavar="ID", help="the request id (removals list shows it)")
    decisions = {
        ReviewAction.APPROVE: "delist the IP and tell the requester",
        ReviewAction.DENY: "refuse",
    }
    for name, text in decisions.items():
        decide = inner.add_parser(name.value, help=text)
        decide.add_argument("id", metavar="ID", help="the request id (removals list shows it)")
        decide.add_argument("--note", default="", help="shown to the requester on the status page")
    for parser in inner.choices.values():
        parser.add_argument("--config", help="config file (as for serve)")
        parser.add_argument("--json", action="store_true", help="print JSON")
    removals.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one ``removals`` subcommand: 0, or EX_DATAERR for a request that cannot be decided."""
    cfg = load_config(args)
    try:
        return _run(cfg, args)
    except ReviewError as err:
        print(f"oplguard removals: {err}", file=sys.stderr)
        return int(Status.EX_DATAERR)


def _run(cfg: Config, args: argparse.Namespace) -> int:
    store = open_store(cfg)
    command: str = args.removals_command
    now = time.time()
    actor = f"cli:{_login()}"
    lists = ListStore(cfg.lists)
    if store.journal():  # an approval a crash interrupted: finish it first, and say so
        lists.load()
        for line in recover(store, lists, actor=actor, now=now):
            print(f"oplguard removals: repair: {line}", file=sys.stderr)
    if command == "list":
        status = None if args.status is None else RequestStatus(args.status)
        _print_list(store.requests(status), args.json)
    elif command == "show":
        _print_show(store, store.require(args.id.strip().lower()), args.json)
    else:
        if command == ReviewAction.APPROVE:
            if not lists.snapshot.lists:
                lists.load()
            request = approve(store, lists, args.id, note=args.note, actor=actor, now=now)
        else:  # a denial changes no list: nothing to load, milliseconds at any list size
            request = deny(store, args.id, note=args.note, actor=actor, now=now)
        _print_show(store, request, args.json)
        if store.notify:  # try at once; what the relay does not take, oplguard web retries
            _notify_now(store, cfg)
    return 0


def _notify_now(store: RemovalStore, cfg: Config) -> None:
    for notice in deliver_due(store, cfg.web.notify, time.time(), public_url=cfg.web.public_url):
        if notice.status == DeliveryStatus.SENT:
            print(f"oplguard removals: notice sent to {notice.email}", file=sys.stderr)
        else:
            print(
                f"oplguard removals: notice to {notice.email} {notice.status}: "
                f"{notice.last_error} (oplguard web retries pending ones)",
                file=sys.stderr,
            )


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (containers)
        return "unknown"


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _print_list(requests: list[RemovalRequest], as_json: bool) -> None:
    if as_json:
        print(json.dumps([r.public() | {"requesters": r.requesters} for r in requests], indent=2))
        return
    if not requests:
        print("no removal requests")
        return
    print(f"{'ID':16}  {'STATUS':8}  {'FILED':20}  {'N':>2}  IP (lists)")
    for r in requests:
        filed, lists = _when(r.created_at), ",".join(r.lists)
        print(f"{r.id:16}  {r.status:8}  {filed:20}  {r.requesters:>2}  {r.ip} ({lists})")


def _print_show(store: RemovalStore, request: RemovalRequest, as_json: bool) -> None:
    contacts = store.contacts(request.id)
    audit = store.audit(request.id)
    sent = notices(store, request_id=request.id)
    if as_json:
        document = request.public() | {
            "requesters": [asdict(contact) for contact in contacts],
            "decided_by": request.decided_by,
            "outcome": list(request.outcome),
            "audit": [asdict(entry) for entry in audit],
            "notices": [asdict(notice) for notice in sent],
        }
        print(json.dumps(document, indent=2))
        return
    print(f"request {request.id}: {request.ip} on {', '.join(request.lists) or '-'}")
    print(f"  status:   {request.status}  (filed {_when(request.created_at)})")
    if request.decided_at is not None:
        print(f"  decided:  {_when(request.decided_at)} by {request.decided_by}")
        print(f"  note:     {printable(request.note or '-')}")
        for line in request.outcome:
            print(f"  changed:  {printable(line)}")
    for contact in contacts:
        print(f"  from {printable(contact.email)} ({contact.client}, {_when(contact.at)}):")
        for line in contact.explanation.splitlines():
            print(f"    | {printable(line)}")
    for notice in sent:
        error = f": {printable(notice.last_error)}" if notice.last_error else ""
        print(
            f"  notice to {printable(notice.email)}: {notice.status}, "
            f"{notice.attempts} attempt(s){error}"
        )
    print("  audit:")
    for entry in audit:
        extra = f" note={entry.note!r}" if entry.note else ""
        extra += f" ({entry.detail})" if entry.detail else ""
        print(f"    {_when(entry.at)}  {entry.action:14} {entry.actor}{extra}")
