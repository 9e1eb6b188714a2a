"""What one message may make a scan hold or do: the per-message limits.

Every structure a scan builds from a message is bounded here, by name, so the
memory of a request stays proportional to the message (which is itself capped
by ``max_message_bytes``) and its CPU bounded, whatever the content.  A limit
that cuts is reported in the answer (symbol ``OPL_TRUNCATED`` and a REPORT
line) and logged once at WARNING; see docs/robustness.md, "Per-message limits".
"""

from __future__ import annotations

import time
from dataclasses import dataclass

# RFC 5321 §6.3: a message with 100 or more Received fields is looping and
# should be rejected.  Parsing and checking stop there.
MAX_RECEIVED_HEADERS = 100
# Originating-IP headers (X-Originating-IP ...) carry one client address;
# SpamAssassin reads one per header.  More is someone else's design.
MAX_ORIGINATING_IPS_PER_HEADER = 10
MAX_ORIGINATING_IPS = 30
# Relays per message, so tracking rows per message (one row per relay).
MAX_RELAYS = MAX_RECEIVED_HEADERS + MAX_ORIGINATING_IPS
# Distinct IPs looked up (local lists and every DNS list) per message.
MAX_CHECKED_IPS = 64
# The header text kept per relay as evidence (RFC 5322 §2.1.1 line limit).
MAX_EVIDENCE_CHARS = 998
# Postfix's header_size_limit is 102 400 bytes: a longer header section never
# reached us unchanged through Postfix.  Only this much of it is parsed.
MAX_HEADER_BYTES = 131_072
# Hits with an evidence block in the REPORT text (the table lists every symbol).
MAX_REPORT_HITS = 20
# Header sections up to this size are parsed in one go (well under SLICE_S);
# longer ones in slices, yielding the event loop every SLICE_S.
INLINE_HEADER_BYTES = 16_384
# The symbol (score 0 unless [scoring.scores] says otherwise) of a cut answer.
TRUNCATED_SYMBOL = "OPL_TRUNCATED"


@dataclass(frozen=True, slots=True)
class Cut:
    """One limit that cut a message's scan: which, and how much it left out."""

    limit: str
    detail: str

    def sentence(self) -> str:
        return f"{self.detail} ({self.limit})"


# How long one message's parsing may run on the event loop before it yields.
SLICE_S = 0.002
# The newest Received headers (the connecting hop first) are walked even when
# the CPU budget is spent: at most this many parses of MAX_RECEIVED_CHARS.
MIN_RECEIVED_WALKED = 8
# Characters of header text parsed between two checks of the clock.
PIECE_CHARS = 8192


class Slices:
    """The clock of one scan run in slices: when to yield, and its CPU budget.

    Time is counted only while the scan runs (between ``resume`` and
    ``pause``), so other requests served in between do not use it up.
    """

    def __init__(self, budget_s: float | None, slice_s: float = SLICE_S) -> None:
        self.budget_s = budget_s
        self.slice_s = slice_s
        self.spent = 0.0
        self.began = time.perf_counter()

    def due(self) -> bool:
        """True when this slice has run for ``slice_s``: time to yield."""
        return time.perf_counter() - self.began > self.slice_s

    def pause(self) -> None:
        self.spent += time.perf_counter() - self.began

    def resume(self) -> None:
        self.began = time.perf_counter()

    def exhausted(self) -> bool:
        """True once the scan has run for longer than its budget in all."""
        if self.budget_s is None:
            return False
        return self.spent + time.perf_counter() - self.began > self.budget_s
