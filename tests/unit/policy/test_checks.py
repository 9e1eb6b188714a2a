"""check-config's warnings: expired sender entries and duplicate list lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from oplguard.config.loader import load
from oplguard.config.model import ListConfig
from oplguard.policy import checks
from oplguard.policy.checks import duplicate_entries, expired_entries

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def test_expired_allowed_and_blocked_entries_are_named_with_their_line(tmp_path: Path) -> None:
    config = tmp_path / "oplguard.toml"
    config.write_text(
        '[[allowed_senders]]\nip = "192.0.2.1"\nexpires = 2026-12-01\n\n'
        '[[allowed_senders]]\nip = "192.0.2.2"\nexpires = 2027-01-01\n\n'
        '[[blocked_senders]]\nip = "198.51.100.0/24"\nexpires = 2026-12-06T00:00:00Z\n'
    )
    warnings = expired_entries(load(config), NOW)
    assert warnings == [
        f"{config}:2: allowed_senders entry 192.0.2.1 expired at 2026-12-01T00:00:00+00:00 "
        "and no longer applies (fix: remove it, or set a later expires)",
        f"{config}:10: blocked_senders entry 198.51.100.0/24 expired at "
        "2026-12-06T00:00:00+00:00 and no longer applies (fix: remove it, or set a later expires)",
    ]


def test_duplicate_list_lines_are_reported_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("192.0.2.1 first\n192.0.2.0/24\n192.0.2.1 again\n!192.0.2.1\n192.0.2.0/24\n")
    warnings = duplicate_entries(ListConfig("l", path))
    assert warnings == [
        f"{path}:3: 192.0.2.1 is already on line 1 (fix: keep one of the two lines)",
        f"{path}:5: 192.0.2.0/24 is already on line 2 (fix: keep one of the two lines)",
    ]


def test_a_list_too_big_to_check_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "l.txt"
    path.write_text("".join(f"192.0.2.{n}\n" for n in range(1, 6)))
    monkeypatch.setattr(checks, "MAX_DUPLICATE_CHECK_ROWS", 3)
    assert duplicate_entries(ListConfig("l", path)) == [
        f"{path}: more than 3 entries: not checked for duplicates"
    ]
