"""Tracking records and the writer's state in plain words (``oplguard track``, ``status``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


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
