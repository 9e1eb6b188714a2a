"""The fixed words of removals: where a request stands, what a submission did, how a
notice's delivery stands, what an audit line records.  Each is stored, shown and sent as its
value (``"pending"``).
"""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    """Where a removal request stands: waiting for an admin, or decided one way."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class SubmissionStatus(StrEnum):
    """What a submission did: nothing (no list holds the IP), a new request, or a merge into
    the IP's pending one."""

    NOT_LISTED = "not-listed"
    SUBMITTED = "submitted"
    MERGED = "merged"


class DeliveryStatus(StrEnum):
    """How a notice's delivery stands: still to send (or to retry), taken by the relay, given up."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class ReviewAction(StrEnum):
    """What a reviewer does with a pending request (the CLI subcommand, the admin form's and
    the admin API's word)."""

    APPROVE = "approve"
    DENY = "deny"


class AuditAction(StrEnum):
    """What one audit line records.  The log is history: it is read back as text, so a word
    an older version wrote still reads; these are the words this version writes."""

    # A submission's line says what it did; a decision's line, the status it set.
    SUBMITTED = SubmissionStatus.SUBMITTED.value
    MERGED = SubmissionStatus.MERGED.value
    APPROVED = RequestStatus.APPROVED.value
    DENIED = RequestStatus.DENIED.value
    APPROVE_REFUSED = "approve-refused"
    DENY_REFUSED = "deny-refused"
    APPROVE_FAILED = "approve-failed"
    APPROVE_REPAIRED = "approve-repaired"
    NOTIFIED = "notified"
    NOTICE_FAILED = "notice-failed"
