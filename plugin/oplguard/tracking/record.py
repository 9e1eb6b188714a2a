"""One tracking record: what was scored, from which relays, and why; pure.

Built on the serving path from the scan (never from the body: only header
fields are read), so it must be cheap and never raise.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr
from typing import Any

from oplguard.mail.headers import Header, values_of
from oplguard.policy.scanner import Scan
from oplguard.policy.verdict import hop_results

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


def senders_of(fields: tuple[Header, ...], scan: Scan) -> tuple[str, str]:
    """(envelope sender, From address), lower case: Return-Path or the newest relay's
    envelope-from, and the From header."""
    return_path = next(iter(values_of(fields, "Return-Path")), "")
    relayed = next((relay.envfrom for relay in scan.chain.relays if relay.envfrom), "")
    envelope = parseaddr(return_path)[1] or relayed
    header_from = parseaddr(next(iter(values_of(fields, "From")), ""))[1]
    return envelope.strip("<>").lower(), header_from.lower()


# Recipients kept per record for ``track --recipient``; a message to a thousand is found
# by its first ones.
MAX_RECIPIENTS = 20


def recipients_of(fields: tuple[Header, ...], user: str) -> list[str]:
    """The spamd user (when it is an address) and the To/Cc addresses, lower case."""
    found = [user] if "@" in user else []
    values = [*values_of(fields, "To"), *values_of(fields, "Cc")]
    found += [address for _, address in getaddresses(values) if "@" in address]
    return list(dict.fromkeys(_cap(a.strip("<>").lower()) for a in found))[:MAX_RECIPIENTS]


def build_record(scan: Scan, message: bytes, message_id: str, host: str, user: str) -> TrackRecord:
    """The record of one scan; reads the header fields the scan parsed (within its limits)."""
    fields = scan.chain.fields
    chain, verdict = scan.chain, scan.verdict
    # The result values (listed, not counted and why, allowed, clean) are policy's words.
    results = hop_results(verdict, ((relay.ip, relay.hop) for relay in chain.checked))
    ips: list[IpSeen] = []
    for relay in chain.relays:
        result = results.get((relay.ip, relay.hop))
        if result is None:
            result = (
                "trusted" if relay.trusted else "skipped" if relay.is_skipped else "not checked"
            )
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
            "recipients": recipients_of(fields, user),
            "checked": [{"ip": s.ip, "hop": s.hop, "result": s.result} for s in ips],
            "hits": [h.as_dict() for h in verdict.listed],
            "allowed": [a.as_dict() for a in verdict.allowed],
            "symbols": {s.name: s.score for s in verdict.symbols},
            "failures": [f.as_dict() for f in verdict.failures],
        },
        ips=tuple(ips),
    )
