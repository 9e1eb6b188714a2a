"""``oplguard track``: search the tracking database and say why, per message.

Reads the database named by the config directly, so it works whether or not
the service runs (SQLite in WAL mode lets it read while the service writes).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oplguard import config as config_mod
from oplguard.errors import Status
from oplguard.observability.durations import parse_duration
from oplguard.storage import StoreError
from oplguard.textsafe import printable_lines
from oplguard.tracking.store import Filter, TrackingStore

# --since reaches back further than a revert may last.
SINCE_LIMIT_S = 10 * 365 * 86400.0


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
    ip = str(ipaddress.ip_address(args.ip)) if args.ip else ""
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


def cmd_track(args: argparse.Namespace, config_path: Path) -> int:
    try:  # the command line first: a usage error is one whatever the config says
        where = make_filter(args)
    except ValueError as err:
        print(f"oplguard track: {err}", file=sys.stderr)
        return int(Status.EX_USAGE)
    cfg = config_mod.load(config_path)
    if not cfg.tracking_db:
        print(f"oplguard track: {config_path}: tracking_db is not set", file=sys.stderr)
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


def record_text(r: dict[str, Any]) -> str:
    """One record in plain words: when, what, why, and every relay IP."""
    when = datetime.fromtimestamp(r["at"], UTC).isoformat(timespec="seconds")
    head = (
        f"{when} {r['host']} {r['action'].upper()} score={r['score']:g}/{r['required_score']:g} "
        f"message-id={r['message_id'] or '-'} queue-id={r['queue_id'] or '-'}"
    )
    lines = [
        head,
        f"  from={r['header_from'] or '-'} envelope={r['sender'] or '-'} "
        f"connecting={r['connecting_ip'] or '-'}",
    ]
    if r["offending_ip"]:
        lines.append(
            f"  offending ip={r['offending_ip']} hop={r['offending_hop']} "
            f"list={r['offending_list']}"
        )
    lines.append(f"  reason: {r['reason']}")
    for seen in r["detail"].get("checked", []):
        lines.append(f"  hop {seen['hop']:>2} {seen['ip']:<39} {seen['result']}")
    return "\n".join(lines)


def status_line(t: dict[str, Any], now: float) -> str:
    """The ``tracking:`` line of ``oplguard status``: state, counts, the last error and when."""
    state = str(t.get("state") or "ok")
    if state == "failing" and t.get("failing_since"):
        state = f"FAILING since {_clock(t['failing_since'])}"
        if t.get("next_retry_at"):
            state += f", next attempt in {max(0.0, t['next_retry_at'] - now):.0f}s"
    text = (
        f"tracking: {state}; {t['written']} written, {t['queued']} queued, "
        f"{t['dropped']} dropped, {t['errors']} errors"
    )
    if t.get("replayed"):
        text += f", {t['replayed']} batches found already committed on retry"
    if t.get("last_error"):
        when = f" at {_clock(t['last_error_at'])}" if t.get("last_error_at") else ""
        text += f"; last error{when}: {t['last_error']}"
    return text


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
