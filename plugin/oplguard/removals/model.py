"""Removal requests as values: the request, its requesters, its audit trail.

Pure: no database, no I/O.  Also the one parser of an IP typed by a person,
shared by the web pages, the JSON API and ``oplguard removals``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from oplguard.errors import InputError
from oplguard.ipaddr import canonical_address, parse_address
from oplguard.removals.vocabulary import RequestStatus

# The longest IPv6 text (45 chars) plus slack; longer input is not an address.
MAX_IP_CHARS = 64
# RFC 5321 §4.5.3.1.3: a path (hence an address) is at most 256 octets.
MAX_EMAIL_CHARS = 254
# A few paragraphs: enough to say what was fixed, too little to paste a log.
MAX_EXPLANATION_CHARS = 4000
MAX_NOTE_CHARS = 2000
# Request ids: 16 base32 characters, 80 random bits: not guessable, easy to type.
REQUEST_ID = re.compile(r"[a-z2-7]{16}")
# Control characters are refused: the address is shown to admins on terminals.
_EMAIL = re.compile(
    r"[^@\s<>\"',;:()\[\]\\\x00-\x1f\x7f-\x9f]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
)


class ReviewError(InputError):
    """A request cannot be found, submitted or decided as asked."""


class AlreadyDecided(ReviewError):
    """Another decision won (or came first): answered 409 / exit 65, nothing changed."""


def parse_public_ip(text: str) -> str:
    """The canonical text of one IPv4 or IPv6 address typed by a person.

    IPv4-mapped IPv6 becomes IPv4; zone ids (``fe80::1%eth0``) and leading
    zeros (octal?) are refused, as are networks: a lookup is one address.

    Raises:
        InputError: not one plain IPv4 or IPv6 address.
    """
    text = text.strip()
    if not text or len(text) > MAX_IP_CHARS:
        raise InputError("enter one IPv4 or IPv6 address, e.g. 192.0.2.99 or 2001:db8::1")
    shown = text if text.isprintable() else repr(text)
    if "%" in text:
        raise InputError(f"{shown}: a scoped IPv6 address (zone id) has no meaning on the Internet")
    if "/" in text or _is_range(text):
        raise InputError(f"{shown}: enter a single address, not a network or range")
    try:
        return canonical_address(text)  # the one reading of an IP (ipaddr.py)
    except ValueError as err:
        if "leading zeros" in str(err):
            raise InputError(
                f"{shown}: leading zeros in an IPv4 address are ambiguous (octal?)"
            ) from err
        raise InputError(f"{shown} is not an IPv4 or IPv6 address") from err


def _is_range(text: str) -> bool:
    """``a-b`` with an address on each side."""
    first, dash, last = text.partition("-")
    try:
        parse_address(first)
        parse_address(last)
    except ValueError:
        return False
    return bool(dash)


def check_email(text: str) -> str:
    """A contact address, checked for shape only (we never send mail to it).

    Raises:
        InputError: empty, too long or not ``local@domain.tld``.
    """
    text = text.strip()
    if len(text) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(text):
        raise InputError("enter a contact e-mail address such as postmaster@example.net")
    return text


def check_text(name: str, text: str, limit: int, required: bool = True) -> str:
    """Free text within ``limit`` characters; control characters other than newlines refused.

    Raises:
        InputError: missing, too long or containing control characters.
    """
    text = text.strip().replace("\r\n", "\n")
    if required and not text:
        raise InputError(f"the {name} is empty: say what was fixed")
    if len(text) > limit:
        raise InputError(f"the {name} is {len(text)} characters; at most {limit}")
    if any(not (ch.isprintable() or ch in "\n\t") for ch in text):
        raise InputError(f"the {name} contains control characters")
    return text


@dataclass(frozen=True, slots=True)
class RemovalRequest:
    """One IP's removal request; later requesters of the same IP are merged into it.

    Attributes:
        lists: the lists that held the IP when it was first requested.
        outcome: what approving changed in the list files, one line per list.
    """

    id: str
    ip: str
    status: RequestStatus
    created_at: float
    updated_at: float
    lists: tuple[str, ...]
    requesters: int = 1
    decided_at: float | None = None
    decided_by: str = ""
    note: str = ""
    outcome: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        """What the requester and anyone with the id may see (no contacts)."""
        return {
            "id": self.id,
            "ip": self.ip,
            "status": self.status,
            "lists": list(self.lists),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "decided_at": self.decided_at,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Contact:
    """One requester of a request: who asked, from where, and why."""

    email: str
    explanation: str
    client: str
    at: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log: every submission, merge and decision."""

    at: float
    request_id: str
    actor: str
    action: str
    note: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """An approval decided and not yet applied to the list files (``host`` edits them)."""

    request_id: str
    ip: str
    host: str
    actor: str
    started_at: float
