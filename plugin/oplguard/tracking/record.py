"""One tracking record: what was scored, from which relays, and why; pure.

Built on the serving path from the scan (never from the body: only header
fields are read), so it must be cheap and never raise.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

from oplguard.mail.headers import Header, values_of
from oplguard.policy.scanner import Scan

# Header values a sender controls are capped before they are stored.
MAX_FIELD_CHARS = 300


@dataclass(frozen=True, slots=True)
class IpSeen:
    """One relay IP of a message: its hop and what the lists said."""

    ip: str
    hop: int
    result: str


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """The tracking row of one scored message."""

    record_id: str
    at: float
    host: str
    message_id: str
    queue_id: str
    sender: str
    header_from: str
    connecting_ip: str
    action: str
    score: float
    required_score: float
    offending_ip: str
    offending_hop: int
    offending_list: str
    reason: str
    detail: dict[str, Any]
    ips: tuple[IpSeen, ...] = field(default=())

    def row(self) -> tuple[Any, ...]:
        """The ``messages`` row, in ``COLUMNS`` order."""
        return (
            self.record_id,
            self.at,
            self.host,
            self.message_id,
            self.queue_id,
            self.sender,
            self.header_from,
            self.connecting_ip,
            self.action,
            self.score,
            self.required_score,
            self.offending_ip,
            self.offending_hop,
            self.offending_list,
            self.reason,
            json.dumps(self.detail, sort_keys=True),
        )

    def ip_rows(self) -> list[tuple[Any, ...]]:
        return [(self.record_id, seen.ip, seen.hop, seen.result) for seen in self.ips]


COLUMNS = (
    "record_id",
    "at",
    "host",
    "message_id",
    "queue_id",
    "sender",
    "header_from",
    "connecting_ip",
    "action",
    "score",
    "required_score",
    "offending_ip",
    "offending_hop",
    "offending_list",
    "reason",
    "detail",
)


def _cap(text: str) -> str:
    return text[:MAX_FIELD_CHARS]


def _results(scan: Scan) -> dict[tuple[str, int], str]:
    """``listed:opl,zombies`` / ``clean`` / ``allowed:NET`` / ``error:LIST`` per checked relay."""
    verdict = scan.verdict
    out: dict[tuple[str, int], str] = {}
    for relay in scan.chain.checked:
        lists = sorted({h.list_name for h in verdict.hits if h.ip == relay.ip})
        allowed = [a.network for a in verdict.allowed if a.ip == relay.ip]
        failed = sorted({f.list_name for f in verdict.failures if f.ip == relay.ip})
        if allowed:
            text = f"allowed:{allowed[0]}"
        elif lists:
            text = "listed:" + ",".join(lists)
        else:
            text = "clean"
        if failed:
            text += ";error:" + ",".join(failed)
        out[(relay.ip, relay.hop)] = text
    return out


def senders_of(fields: tuple[Header, ...], scan: Scan) -> tuple[str, str]:
    """(envelope sender, From address), lower case: Return-Path or the newest relay's
    envelope-from, and the From header."""
    return_path = next(iter(values_of(fields, "Return-Path")), "")
    relayed = next((relay.envfrom for relay in scan.chain.relays if relay.envfrom), "")
    envelope = parseaddr(return_path)[1] or relayed
    header_from = parseaddr(next(iter(values_of(fields, "From")), ""))[1]
    return envelope.strip("<>").lower(), header_from.lower()


def build_record(scan: Scan, message: bytes, message_id: str, host: str, user: str) -> TrackRecord:
    """The record of one scan; reads the header fields the scan parsed (within its limits)."""
    fields = scan.chain.fields
    chain, verdict = scan.chain, scan.verdict
    results = _results(scan)
    ips: list[IpSeen] = []
    for relay in chain.relays:
        if relay.trusted:
            result = "trusted"
        elif relay.is_skipped:
            result = "skipped"
        else:
            result = results.get((relay.ip, relay.hop), "not checked")
        ips.append(IpSeen(relay.ip, relay.hop, result))
    top = chain.relays[0] if chain.relays else None
    envelope, header_from = senders_of(fields, scan)
    hit = verdict.offending
    return TrackRecord(
        record_id=uuid.uuid4().hex,
        at=time.time(),
        host=host,
        message_id=message_id,
        queue_id=_cap(top.id if top else ""),
        sender=_cap(envelope),
        header_from=_cap(header_from),
        connecting_ip=chain.connecting_ip or "",
        action=verdict.action,
        score=verdict.score,
        required_score=verdict.required_score,
        offending_ip=hit.ip if hit else "",
        offending_hop=hit.hop if hit else 0,
        offending_list=hit.list_name if hit else "",
        reason=verdict.reason,
        detail={
            "user": _cap(user),
            "checked": [{"ip": s.ip, "hop": s.hop, "result": s.result} for s in ips],
            "hits": [h.as_dict() for h in verdict.hits],
            "allowed": [a.as_dict() for a in verdict.allowed],
            "symbols": {s.name: s.score for s in verdict.symbols},
            "failures": [f.as_dict() for f in verdict.failures],
        },
        ips=tuple(ips),
    )
