"""Filing a removal request: check the input, answer unlisted IPs at once, merge duplicates.

Blocking (database); the web service runs it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from oplguard.lists.block import ListSnapshot
from oplguard.removals.model import (
    MAX_EXPLANATION_CHARS,
    Contact,
    RemovalRequest,
    check_email,
    check_text,
    parse_public_ip,
)
from oplguard.removals.ratelimit import RateLimited, check_submission
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import SubmissionStatus

audit_log = logging.getLogger("oplguard.removals.audit")


@dataclass(frozen=True, slots=True)
class Limits:
    """Submission limits, from ``[web]``."""

    per_client_per_hour: int = 5
    per_ip_per_day: int = 3


@dataclass(frozen=True, slots=True)
class Submission:
    """The answer to a submission; ``request`` is None when the IP is not listed."""

    ip: str
    status: SubmissionStatus
    request: RemovalRequest | None = None


def listing_lists(snapshot: ListSnapshot, ip: str, now: float) -> tuple[str, ...]:
    """The lists that hold ``ip`` now (expired entries do not count)."""
    when = datetime.fromtimestamp(now, UTC)
    return tuple(hit.list_name for hit in snapshot.lookup(ip, when))


def submit_request(
    store: RemovalStore,
    snapshot: ListSnapshot,
    *,
    ip: str,
    email: str,
    explanation: str,
    client: str,
    limits: Limits,
    now: float,
) -> Submission:
    """Check and file one removal request.

    Raises:
        InputError: a bad IP, e-mail or explanation (the message says which).
        RateLimited: over the per-client or per-IP limit.
    """
    address = parse_public_ip(ip)
    contact = Contact(
        check_email(email),
        check_text("explanation", explanation, MAX_EXPLANATION_CHARS),
        client,
        now,
    )
    lists = listing_lists(snapshot, address, now)
    if not lists:
        return Submission(address, SubmissionStatus.NOT_LISTED)
    refusal = check_submission(
        store,
        client=client,
        ip=address,
        per_client_per_hour=limits.per_client_per_hour,
        per_ip_per_day=limits.per_ip_per_day,
        now=now,
    )
    if refusal is not None:
        raise RateLimited(refusal)
    request, merged = store.submit(address, lists, contact)
    status = SubmissionStatus.MERGED if merged else SubmissionStatus.SUBMITTED
    audit_log.info(
        "removal %s request=%s ip=%s lists=%s client=%s",
        status,
        request.id,
        address,
        ",".join(lists),
        client,
    )
    return Submission(address, status, request)
