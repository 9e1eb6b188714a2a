"""``oplguard lists status``: one row per list, file or DNS, with its health.

Pure: built from the running service's snapshot, DNSBL health and the last
reload error of each file, so an operator sees at once which list is
serving what, which one is broken, and which one the circuit breaker has
switched to monitor-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from oplguard.config.model import Config
from oplguard.lists.block import ListSnapshot
from oplguard.lists.health import ListHealth
from oplguard.progress import amount


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


class FileState(StrEnum):
    """Where a list file stands: loaded, not there (yet), or unreadable (the last good version
    stays in use)."""

    LOADED = "loaded"
    MISSING = "missing"
    ERROR = "error"


def _file_state(is_loaded: bool, error: str) -> FileState:
    if error:
        return FileState.ERROR
    return FileState.LOADED if is_loaded else FileState.MISSING


def lists_status(
    cfg: Config,
    snapshot: ListSnapshot,
    health: Mapping[str, ListHealth],
    errors: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Rows for every configured list, in config order."""
    rows: list[dict[str, Any]] = []
    for list_cfg in cfg.lists:
        block = snapshot.get(list_cfg.name)
        error = errors.get(list_cfg.name, "")
        rows.append(
            {
                "name": list_cfg.name,
                "kind": "file",
                "category": list_cfg.category,
                "source": str(list_cfg.path),
                "state": _file_state(bool(block), error),
                "entries": len(block.entries) if block else 0,
                "exclusions": len(block.exclusions) if block else 0,
                "loaded_at": _when(block.loaded_at) if block else None,
                "load_s": round(block.load_s, 3) if block else None,
                "file_bytes": block.stamp.size if block and block.stamp else None,
                "file_mtime": _when(block.mtime) if block else None,
                "error": error or None,
            }
        )
    for dns in cfg.dnsbls:
        state = health.get(dns.name)
        rows.append(
            {
                "name": dns.name,
                "kind": "dnsbl",
                "category": dns.category,
                "source": dns.zone,
                "state": state.state if state else "unknown",
                "reason": state.reason if state else "",
                "answers": state.answers if state else 0,
                "errors": state.errors if state else 0,
                "hit_rate": round(state.hit_rate, 4) if state else 0.0,
                "baseline": round(state.baseline, 4) if state else 0.0,
                "failed_probes": state.failed_probes if state else 0,
                "since": state.as_dict()["since"] if state else None,
                "skipped": state.skipped if state else 0,
                "on_error": dns.on_error,
            }
        )
    return rows


def status_text(rows: list[dict[str, Any]]) -> str:
    """The human table."""
    lines = []
    for row in rows:
        if row["kind"] == "file":
            detail = f"{row['entries']:,} entries, loaded {row['loaded_at']}"
            if row["file_bytes"] is not None:
                detail += f" from {amount(row['file_bytes'], 'B')} in {row['load_s']:.1f} s"
            if row["exclusions"]:
                detail += f", {row['exclusions']} exclusions"
            if row["error"]:
                detail += (
                    f"\n    last reload failed (serving the last good version): {row['error']}"
                )
        else:
            detail = (
                f"zone {row['source']}: {row['answers']} answers, {row['errors']} errors, "
                f"hit rate {row['hit_rate']:.1%} (baseline {row['baseline']:.1%}), "
                f"on_error={row['on_error']}"
            )
            if row["reason"]:
                detail += f"\n    since {row['since']}: {row['reason']}"
            if row["skipped"]:
                detail += f"\n    {row['skipped']} lookups answered by the breaker without a query"
        lines.append(f"{row['name']:<16} {row['kind']:<6} {row['state']:<13} {detail}")
    return "\n".join(lines) if lines else "no lists configured"
