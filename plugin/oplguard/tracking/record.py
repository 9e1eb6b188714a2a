"""One tracking record: what was scored, from which relays, and why; pure.

Built on the serving path from the scan (never from the body: only header
fields are read), so it must be cheap and never raise: one tuple per message,
one small tuple per relay, no dict and no JSON.  The writer thread turns it
into table rows (``row``, ``ip_rows``) with the record id of its batch.
"""

from __future__ import annotations

import json
import re
import time
from email.utils import getaddresses, parseaddr
from typing import Any, NamedTuple

from oplguard.mail.headers import Header
from oplguard.policy.scanner import Scan
from oplguard.policy.verdict import Verdict, hop_results

# Header values a sender controls are capped before they are stored.
MAX_FIELD_CHARS = 300

# json.dumps(..., sort_keys=True) without making an encoder per call.
_DETAIL_JSON = json.JSONEncoder(sort_keys=True)
# (ip, hop, result) of one relay, newest hop first.
IpSeen = tuple[str, int, str]


class TrackRecord(NamedTuple):
    """The tracking record of one scored message, as the scan hook queues it."""

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
    user: str
    ips: tuple[IpSeen, ...]
    # Hits, allow entries, symbols and failures: the scan's own frozen values, shared.
    verdict: Verdict
    # The spamd user and the raw To/Cc values; read into addresses by the writer thread.
    recipient_fields: tuple[str, ...] = ()

    def row(self, record_id: str) -> tuple[Any, ...]:
        """The ``messages`` row, in ``COLUMNS`` order (the first 14 fields are the columns
        between ``record_id`` and ``detail``, in order; a unit test holds them so)."""
        return (record_id, *self[:14], _DETAIL_JSON.encode(self.detail()))

    def detail(self) -> dict[str, Any]:
        """The ``detail`` column: every relay with its result, hits, allow entries, symbols."""
        verdict = self.verdict
        return {
            "user": self.user,
            "recipients": recipients_of(self.recipient_fields),
            "checked": [{"ip": ip, "hop": hop, "result": result} for ip, hop, result in self.ips],
            "hits": [h.as_dict() for h in verdict.listed],
            "allowed": [a.as_dict() for a in verdict.allowed],
            "symbols": {s.name: s.score for s in verdict.symbols},
            "failures": [f.as_dict() for f in verdict.failures],
        }

    def ip_rows(self, record_id: str) -> list[tuple[str, str, int, str]]:
        return [(record_id, ip, hop, result) for ip, hop, result in self.ips]


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


# The common spellings `a@b`, `<a@b>` and `Name <a@b>` (atoms only: no quotes, comments,
# groups, routes or escapes), whose address parseaddr() would return unchanged.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE = re.compile(
    rf"({_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*)"
    rf"|[^\"(),.:;<>@\[\]\\]*<({_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*)>"
)


class _Wanted(NamedTuple):
    """The header values tracking keeps, read in one pass over the scan's fields."""

    return_path: str
    from_value: str
    recipients: tuple[str, ...]  # every To and Cc value, top first


# Lengths of the names read below: "from" 4, "to"/"cc" 2, "return-path" 11.
_WANTED_LENGTHS = frozenset({2, 4, 11})


def _wanted(fields: tuple[Header, ...]) -> _Wanted:
    """First Return-Path, first From and every To/Cc value of ``fields``; one pass."""
    return_path: str | None = None
    from_value: str | None = None
    recipients: list[str] = []
    for name, value in fields:
        if len(name) not in _WANTED_LENGTHS:  # most fields: no lower() at all
            continue
        lowered = name.lower()
        if lowered in ("to", "cc"):
            recipients.append(value)
        elif lowered == "from" and from_value is None:
            from_value = value
        elif lowered == "return-path" and return_path is None:
            return_path = value
    return _Wanted(return_path or "", from_value or "", tuple(recipients))


def sender_fields(fields: tuple[Header, ...]) -> tuple[str, str]:
    """The first Return-Path and the first From value among ``fields`` (the scan's
    parsed header fields); "" for a missing field.  One pass, no second parse."""
    wanted = _wanted(fields)
    return wanted.return_path, wanted.from_value


def address_of(value: str) -> str:
    """The address of a header value, as ``email.utils.parseaddr`` reads it.

    The usual spellings take a regex; anything else goes to parseaddr.
    """
    simple = _SIMPLE.fullmatch(value)
    if simple is not None:
        return simple.group(1) or simple.group(2)
    return parseaddr(value)[1]


def senders_of(scan: Scan, wanted: _Wanted | None = None) -> tuple[str, str]:
    """(envelope sender, From address), lower case: Return-Path or the newest relay's
    envelope-from, and the From header (from the fields the scan parsed)."""
    return_path, from_value, _ = wanted or _wanted(scan.chain.fields)
    relayed = next((relay.envfrom for relay in scan.chain.relays if relay.envfrom), "")
    envelope = (address_of(return_path) if return_path else "") or relayed
    header_from = address_of(from_value) if from_value else ""
    return envelope.strip("<>").lower(), header_from.lower()


# Recipients kept per record for ``track --recipient``; a message to a thousand is found
# by its first ones.
MAX_RECIPIENTS = 20


def recipients_of(fields: tuple[str, ...]) -> list[str]:
    """The spamd user (when it is an address) and the To/Cc addresses, lower case."""
    user, *values = fields or ("",)
    found = [user] if "@" in user else []
    found += [address for _, address in getaddresses(values) if "@" in address]
    return list(dict.fromkeys(_cap(a.strip("<>").lower()) for a in found))[:MAX_RECIPIENTS]


def build_record(scan: Scan, message_id: str, host: str, user: str) -> TrackRecord:
    """The record of one scan; reads the header fields the scan parsed, never the message."""
    chain, verdict = scan.chain, scan.verdict
    checked = [(relay.ip, relay.hop) for relay in chain.checked]
    # The result values (listed, not counted and why, allowed, clean) are policy's words.
    if verdict.listed or verdict.allowed or verdict.failures:
        results = hop_results(verdict, checked)
    else:  # most mail: every checked relay is clean
        results = dict.fromkeys(checked, "clean")
    ips: list[IpSeen] = []
    for relay in chain.relays:
        result = results.get((relay.ip, relay.hop))
        if result is None:
            result = (
                "trusted" if relay.trusted else "skipped" if relay.is_skipped else "not checked"
            )
        ips.append((relay.ip, relay.hop, result))
    top = chain.relays[0] if chain.relays else None
    wanted = _wanted(chain.fields)
    envelope, header_from = senders_of(scan, wanted)
    hit = verdict.offending
    return TrackRecord(
        time.time(),
        host,
        message_id,
        _cap(top.id) if top else "",
        _cap(envelope),
        _cap(header_from),
        chain.connecting_ip or "",
        verdict.action,
        verdict.score,
        verdict.required_score,
        hit.ip if hit else "",
        hit.hop if hit else 0,
        hit.list_name if hit else "",
        verdict.reason,
        _cap(user),
        tuple(ips),
        verdict,
        (user, *wanted.recipients),
    )
