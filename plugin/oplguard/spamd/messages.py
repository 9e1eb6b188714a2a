"""Requests, results, limits and failures of the spamd protocol (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from oplguard.errors import Status

# spamc refuses reply lines of 8 KiB or more; we cap request lines the same way.
MAX_LINE_BYTES = 8192
# spamd fails when the 256th consecutive non-blank header line arrives.
MAX_HEADER_LINES = 255
# spamc's own default for -s (500 KiB); larger messages are normally not sent.
DEFAULT_MAX_BODY_BYTES = 512_000
# The newest protocol version; any larger 1.x is treated as this one.
NEWEST_VERSION = (1, 5)


class Verb(Enum):
    """The commands spamd knows."""

    CHECK = "CHECK"
    SYMBOLS = "SYMBOLS"
    REPORT = "REPORT"
    REPORT_IFSPAM = "REPORT_IFSPAM"
    PROCESS = "PROCESS"
    HEADERS = "HEADERS"
    PING = "PING"
    SKIP = "SKIP"
    TELL = "TELL"


SCAN_VERBS = frozenset(
    {Verb.CHECK, Verb.SYMBOLS, Verb.REPORT, Verb.REPORT_IFSPAM, Verb.PROCESS, Verb.HEADERS}
)
# Commands whose reply must echo the whole message body.
ECHO_VERBS = frozenset({Verb.PROCESS})


class Marker(Enum):
    """What ``SpamdConnection.next_event`` returns while it has nothing to give."""

    NEED_DATA = "need data"


NEED_DATA = Marker.NEED_DATA


@dataclass(frozen=True, slots=True)
class Limits:
    """What one connection may make the server hold in memory.

    ``max_body_bytes`` bounds the (inflated) message.  For the scan-only
    commands a longer message is cut to this size (the Received headers are
    at the top) and ``Request.body_truncated`` is set; PROCESS must echo the
    whole message, so for it a longer message is an error.
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_line_bytes: int = MAX_LINE_BYTES
    max_header_lines: int = MAX_HEADER_LINES


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed spamd request."""

    verb: Verb
    version: tuple[int, int]
    body: bytes = b""
    user: str | None = None
    content_length: int | None = None
    compressed: bool = False
    body_truncated: bool = False
    message_class: str | None = None
    set_local: bool = False
    set_remote: bool = False
    remove_local: bool = False
    remove_remote: bool = False


@dataclass(frozen=True, slots=True)
class ProtocolFailure:
    """A request that cannot be served: the status and the text after the code."""

    status: Status
    message: str


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What the scanner found, in the terms the protocol reports."""

    score: float
    required_score: float
    symbols: tuple[str, ...] = ()
    report: str = ""
    message: bytes = b""

    @property
    def is_spam(self) -> bool:
        """spam ⇔ score ≥ required score (unrounded), as spamd decides."""
        return self.score >= self.required_score


@dataclass(frozen=True, slots=True)
class TellResult:
    """The learning actions that changed something ("local", "remote")."""

    did_set: tuple[str, ...] = ()
    did_remove: tuple[str, ...] = ()


def bad_header(detail: str) -> ProtocolFailure:
    """spamd's 76 ``Bad header line: <detail>``."""
    return ProtocolFailure(Status.EX_PROTOCOL, f"Bad header line: {detail}")


def unavailable(detail: str) -> ProtocolFailure:
    """spamd's 69 ``Service Unavailable: <detail>``."""
    return ProtocolFailure(Status.EX_UNAVAILABLE, f"Service Unavailable: {detail}")


def tell_disabled() -> ProtocolFailure:
    """The answer of a spamd started without ``--allow-tell``."""
    return unavailable("TELL commands are not enabled, set the --allow-tell switch.")
