"""The Received corpus in tests/data/received: one value per line, "\\n" marks a fold.

Read as latin-1 bytes, as sa_expected.pl reads it, and turned into a message the
same way, so both parsers see the same header section.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from oplguard.mail.headers import header_fields

CORPUS = Path(__file__).parents[2] / "data" / "received"
EXPECTED = CORPUS / "expected.json"
FOLD = "\\n"


@dataclass(frozen=True)
class Sample:
    """One corpus line."""

    file: str
    line: int
    value: str


def samples() -> list[Sample]:
    """Every non-comment line of every corpus file, in file and line order."""
    found = []
    for path in sorted(CORPUS.glob("*.txt")):
        for number, text in enumerate(path.read_bytes().decode("latin-1").splitlines(), 1):
            if text.strip() and not text.lstrip().startswith("#"):
                found.append(Sample(path.name, number, text))
    return found


def as_message(value: str) -> bytes:
    """The message sa_expected.pl builds for one corpus value."""
    folded = value.replace(FOLD, "\n")
    return f"Received: {folded}\nSubject: corpus\n\nbody\n".encode("latin-1")


def unfolded(value: str) -> str:
    """The Received value after header parsing (folds joined), as the parser gets it."""
    fields = header_fields(as_message(value))
    return next((v for name, v in fields if name.lower() == "received"), "")


def corpus_value(file: str, line: int) -> str:
    """The unfolded value at ``file``:``line`` of the corpus."""
    text = (CORPUS / file).read_bytes().decode("latin-1").splitlines()[line - 1]
    return unfolded(text)


@cache
def expected() -> dict[str, Any]:
    """expected.json, as SpamAssassin wrote it."""
    data: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="ascii"))
    return data
