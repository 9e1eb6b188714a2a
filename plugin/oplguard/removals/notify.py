"""Telling requesters of decisions: the outbox's due notices go to the SMTP relay (smtplib).

A notice that the relay does not take is retried with a doubling backoff and
shown on the admin page as pending delivery; after ``MAX_ATTEMPTS`` (or a
permanent 5xx refusal) it is marked failed, still shown, and audited: never
lost silently.  The status page stays the source of truth.  Blocking.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from oplguard.config.model import NotifyConfig
from oplguard.removals.model import AuditEntry, RemovalRequest
from oplguard.removals.outbox import Notice, notice_of, select
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import AuditAction, DeliveryStatus, RequestStatus

log = logging.getLogger(__name__)
audit_log = logging.getLogger("oplguard.removals.audit")

# Retries: 1 min, 2, 4 ... capped at 1 h; 12 attempts span about half a day,
# longer than a relay's usual maintenance window.
RETRY_FIRST_S = 60.0
RETRY_MAX_S = 3600.0
MAX_ATTEMPTS = 12
# Notices sent per round: a backlog drains over several rounds, none blocks for long.
BATCH = 20
# A sender holds a notice this long past its SMTP timeout before another may retry it.
LEASE_SLACK_S = 30.0
SMTP_PERMANENT = 500
ACTOR = "notify"


def backoff_s(attempts: int) -> float:
    """The wait after the ``attempts``-th failed try."""
    return float(min(RETRY_FIRST_S * 2.0 ** max(attempts - 1, 0), RETRY_MAX_S))


def notices(
    store: RemovalStore, *, undelivered: bool = False, request_id: str = ""
) -> list[Notice]:
    """Newest first: all notices, the pending and failed ones (admin page), or one request's."""
    if request_id:
        rows = store.db.query(select("WHERE request_id = ? ORDER BY email"), (request_id,))
    else:
        where = "WHERE status != ? " if undelivered else "WHERE status != '' "
        params = (DeliveryStatus.SENT,) if undelivered else ()
        rows = store.db.query(select(f"{where}ORDER BY created_at DESC LIMIT 500"), params)
    return [notice_of(row) for row in rows]


def deliver_due(
    store: RemovalStore, cfg: NotifyConfig, now: float, *, public_url: str = ""
) -> list[Notice]:
    """Send the notices due at ``now`` (at most ``BATCH``); each comes back as it ended."""
    rows = store.db.query(
        select("WHERE status = ? AND next_at <= ? ORDER BY next_at LIMIT ?"),
        (DeliveryStatus.PENDING, now, BATCH),
    )
    done = []
    for notice in map(notice_of, rows):
        if not _lease(store, notice, now + cfg.timeout_s + LEASE_SLACK_S):
            continue  # another sender took it
        request = store.require(notice.request_id)
        error, permanent = _send(cfg, _message(cfg, notice, request, public_url))
        done.append(_record(store, notice, now, error, permanent))
    return done


def _lease(store: RemovalStore, notice: Notice, until: float) -> bool:
    with store.transaction() as run:
        cursor = run(
            "UPDATE removal_notices SET next_at = ? "
            "WHERE request_id = ? AND email = ? AND status = ? AND next_at = ?",
            (until, notice.request_id, notice.email, DeliveryStatus.PENDING, notice.next_at),
        )
        return bool(cursor.rowcount == 1)


def _record(store: RemovalStore, notice: Notice, now: float, error: str, permanent: bool) -> Notice:
    """Store how one attempt ended (and audit a delivery or a final failure)."""
    attempts = notice.attempts + 1
    if not error:
        status = DeliveryStatus.SENT
    elif permanent or attempts >= MAX_ATTEMPTS:
        status = DeliveryStatus.FAILED
    else:
        status = DeliveryStatus.PENDING
    next_at = now + backoff_s(attempts) if status == DeliveryStatus.PENDING else now
    sent_at = now if status == DeliveryStatus.SENT else None
    ended = replace(
        notice, status=status, attempts=attempts, next_at=next_at, last_error=error, sent_at=sent_at
    )
    with store.transaction() as run:
        run(
            "UPDATE removal_notices SET status = ?, attempts = ?, next_at = ?, last_error = ?, "
            "sent_at = ? WHERE request_id = ? AND email = ?",
            (status, attempts, next_at, error, sent_at, notice.request_id, notice.email),
        )
    _report(store, ended, now)
    return ended


def _report(store: RemovalStore, notice: Notice, now: float) -> None:
    if notice.status == DeliveryStatus.SENT:
        store.record(
            AuditEntry(now, notice.request_id, ACTOR, AuditAction.NOTIFIED, detail=notice.email)
        )
        log.info("notice for request %s sent to %s", notice.request_id, notice.email)
    elif notice.status == DeliveryStatus.FAILED:
        detail = f"{notice.email}: gave up after {notice.attempts} attempts: {notice.last_error}"
        store.record(
            AuditEntry(now, notice.request_id, ACTOR, AuditAction.NOTICE_FAILED, detail=detail)
        )
        audit_log.error("removal notice failed request=%s: %s", notice.request_id, detail)
    else:
        log.warning(
            "notice for request %s to %s not delivered (attempt %d, next in %.0f s): %s",
            notice.request_id,
            notice.email,
            notice.attempts,
            notice.next_at - now,
            notice.last_error,
        )


def _message(
    cfg: NotifyConfig, notice: Notice, request: RemovalRequest, public_url: str
) -> EmailMessage:
    decided = "approved" if request.status == RequestStatus.APPROVED else "denied"
    when = datetime.fromtimestamp(request.decided_at or notice.created_at, UTC)
    message = EmailMessage()
    message["From"] = cfg.sender
    message["To"] = notice.email
    message["Subject"] = f"Removal request {request.id} for {request.ip}: {decided}"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=cfg.sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-replied"  # RFC 3834: no vacation replies to us
    lines = [
        f"Your removal request {request.id} for {request.ip} was {decided}",
        f"on {when:%Y-%m-%d %H:%M} UTC.",
        "",
        f"Decision: {decided}",
        f"Note from the reviewer: {request.note or '(none)'}",
        "",
        "The address is no longer on our lists; receiving servers that cache"
        " answers may take an hour to follow."
        if request.status == RequestStatus.APPROVED
        else "The address stays listed. You may ask again once the problem is fixed.",
    ]
    if public_url:
        lines += ["", f"Status page: {public_url.rstrip('/')}/removals/{request.id}"]
    message.set_content("\n".join(lines) + "\n")
    return message


def _send(cfg: NotifyConfig, message: EmailMessage) -> tuple[str, bool]:
    """Hand one message to the relay: ("", False) or (the error, whether it is permanent)."""
    try:
        with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
            if cfg.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                smtp.login(cfg.username, cfg.password)
            smtp.send_message(message)
    except smtplib.SMTPResponseException as err:
        text = (
            err.smtp_error.decode("utf-8", "replace")
            if isinstance(err.smtp_error, bytes)
            else str(err.smtp_error)
        )
        return (
            f"{cfg.host}:{cfg.port} answered {err.smtp_code} {text}",
            err.smtp_code >= SMTP_PERMANENT,
        )
    except smtplib.SMTPRecipientsRefused as err:
        return f"{cfg.host}:{cfg.port} refused the recipient: {err.recipients}", True
    except (smtplib.SMTPException, OSError) as err:
        return f"{cfg.host}:{cfg.port}: {err}", False
    return "", False
