"""What ``check-config`` and a reload warn about without refusing the config: Allowed and
Blocked Senders entries that have already expired, and entries listed twice in a list file.

Pure apart from reading the list files (once more, line by line, for the line numbers).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from oplguard.config.model import Config, ListConfig, SenderEntry
from oplguard.errors import ListError
from oplguard.ipaddr import span_text
from oplguard.lists.formats import decode, iter_rows

# Rows of one list file checked for duplicates; the check keeps one key per row, so
# a bigger file (a 10-million-entry feed) is not checked, and the warning says so.
MAX_DUPLICATE_CHECK_ROWS = 1_000_000
# Duplicate lines reported per list; the rest are counted.
MAX_DUPLICATES_SHOWN = 20


def expired_entries(cfg: Config, now: datetime) -> list[str]:
    """One warning per sender entry whose ``expires`` is already past."""
    out = []
    tables: tuple[tuple[str, tuple[SenderEntry, ...]], ...] = (
        ("allowed_senders", cfg.allowed_senders),
        ("blocked_senders", cfg.blocked_senders),
    )
    for table, entries in tables:
        for entry in entries:
            if entry.expires is not None and not entry.is_active(now):
                where = f"{cfg.path}:{entry.line}" if entry.line else str(cfg.path)
                out.append(
                    f"{where}: {table} entry {entry.network} expired at "
                    f"{entry.expires.isoformat()} and no longer applies "
                    "(fix: remove it, or set a later expires)"
                )
    return out


def duplicate_entries(config: ListConfig) -> list[str]:
    """One warning per line of a list file that repeats an earlier entry (same network,
    both listings or both exclusions): the later line only hides the earlier one's reason.

    Raises:
        ListError: the file cannot be read or parsed (as loading it would).
    """
    path = Path(config.path)
    try:
        text = decode(path.read_bytes())
    except OSError as err:
        raise ListError(f"cannot read list file: {err.strerror or err}", path=str(path)) from err
    first: dict[object, int] = {}
    found: list[str] = []
    repeats = 0
    for count, (number, row) in enumerate(iter_rows(text, config.format, str(path)), start=1):
        if count > MAX_DUPLICATE_CHECK_ROWS:
            return [
                f"{path}: more than {MAX_DUPLICATE_CHECK_ROWS} entries: not checked for duplicates"
            ]
        key = (row[0], row[4])
        if key not in first:
            first[key] = number
            continue
        repeats += 1
        if len(found) < MAX_DUPLICATES_SHOWN:
            found.append(
                f"{path}:{number}: {span_text(row[0])} is already on line {first[key]} "
                "(fix: keep one of the two lines)"
            )
    if repeats > len(found):
        found.append(f"{path}: and {repeats - len(found)} more duplicate lines")
    return found


def config_warnings(cfg: Config, now: datetime) -> list[str]:
    """Everything ``check-config`` and a reload warn about, in config order."""
    out = expired_entries(cfg, now)
    for config in cfg.lists:
        out += duplicate_entries(config)
    return out
