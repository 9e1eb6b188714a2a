"""Sample data for tests: messages in tests/data/messages."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
MESSAGES = DATA / "messages"


def message(name: str) -> bytes:
    """A sample message from tests/data/messages."""
    return (MESSAGES / name).read_bytes()
