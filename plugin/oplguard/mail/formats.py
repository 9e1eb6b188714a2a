"""The machinery of the MTA format table: a row type, its fix-ups, SA's LOCALHOST.

Pure: no I/O.  The rows themselves are in ``mta_table.py``, in SpamAssassin's order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from oplguard.mail.addresses import IP_ADDRESS as IP
from oplguard.mail.prefilter import needles

Fields = dict[str, str]
Pattern = re.Pattern[str]

# SA Constants.pm LOCALHOST: "localhost", 127.0.0.1 and the IPv6 loopback spellings.
_Z = r"0{1,4}"
LOCALHOST = (
    r"(?i:localhost(?:\.localdomain)?|\b(?<!:)127\.0\.0\.1\b"
    r"|(?:IPv6:|(?<![a-f0-9:]))(?:"
    rf"(?:(?:{_Z}:){{5}}ffff:|::(?:{_Z}:){{0,4}}ffff:|(?:{_Z}:){{1,4}}:ffff:"
    rf"|{_Z}::(?:{_Z}:){{1,3}}ffff:|(?:{_Z}:){{2}}:0{{1,2}}:ffff:|(?:{_Z}:){{3}}:0:ffff:"
    rf"|(?:{_Z}:){{4}}:ffff:)127\.0\.0\.1"
    rf"|(?:{_Z}:){{7}}0{{0,3}}1|:(?::{_Z}){{0,6}}:0{{0,3}}1|{_Z}:(?::{_Z}){{0,5}}:0{{0,3}}1"
    rf"|(?:{_Z}:){{2}}(?::{_Z}){{0,4}}:0{{0,3}}1|(?:{_Z}:){{3}}(?::{_Z}){{0,3}}:0{{0,3}}1"
    rf"|(?:{_Z}:){{4}}(?::{_Z}){{0,2}}:0{{0,3}}1|(?:{_Z}:){{5}}(?::{_Z}){{0,1}}:0{{0,3}}1"
    rf"|(?:{_Z}:){{6}}:0{{0,3}}1"
    r")(?![a-f0-9:]))"
)


class Outcome(Enum):
    """What a matching row means for the field."""

    RELAY = "relay"  # SA "goto enough": a hand-over with a client IP
    SKIP = "skip"  # SA "return 0": not a relay
    FETCH = "fetch"  # POP/IMAP fetch: skipped, and restarts the chain (SA found_pop_fetcher_sig)


def rx(pattern: str, flags: int = 0) -> Pattern:
    """Compile one of SA's patterns: ASCII classes, as Perl on byte strings."""
    return re.compile(pattern, re.ASCII | flags)


@dataclass(frozen=True, slots=True)
class Format:
    """One SA pattern.  ``groups`` name the field each capture group sets
    ("a+b" sets both, "" ignores it); ``family`` rows run only inside SA's
    elsif block of that name; ``guards`` must all match, ``unless`` must not."""

    name: str
    pattern: Pattern
    groups: tuple[str, ...] = ()
    outcome: Outcome = Outcome.RELAY
    family: str = ""
    guards: tuple[Pattern, ...] = ()
    unless: Pattern | None = None
    fixup: Callable[[Fields, re.Match[str]], None] | None = None
    # Literals the pattern and every guard need (prefilter.py): a row whose
    # keywords are absent is skipped without running a regex.
    required: tuple[str, ...] = field(default=(), init=False, compare=False)
    # ``groups`` read once: (group number, field names) for the groups that set a field.
    targets: tuple[tuple[int, tuple[str, ...]], ...] = field(
        default=(), init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "required", needles(self.pattern, *self.guards))
        targets = tuple(
            (index, tuple(filter(None, names.split("+"))))
            for index, names in enumerate(self.groups, start=1)
        )
        object.__setattr__(self, "targets", tuple(t for t in targets if t[1]))

    def apply(self, text: str, fields: Fields) -> Outcome | None:
        """Try the row on ``text``; on a match set ``fields`` and say what it means."""
        for needle in self.required:  # inlined prefilter.absent: this runs ~40 times a field
            if needle not in text:
                return None
        return self.decide(text, fields)

    def decide(self, text: str, fields: Fields) -> Outcome | None:
        """``apply`` for a ``text`` already known to hold every needle (``required``)."""
        for guard in self.guards:
            if guard.search(text) is None:
                return None
        if self.unless is not None and self.unless.search(text):
            return None
        match = self.pattern.search(text)
        if match is None:
            return None
        for index, names in self.targets:
            value = match.group(index) or ""
            for name in names:
                fields[name] = value
        if self.fixup is not None:
            self.fixup(fields, match)
        return self.outcome


@dataclass(frozen=True, slots=True)
class Custom:
    """A row SA writes as code rather than one pattern (several partial matches)."""

    name: str
    func: Callable[[str, Fields], Outcome | None]
    family: str = ""

    def apply(self, text: str, fields: Fields) -> Outcome | None:
        """Run the row's code on ``text``; None when it does not decide."""
        return self.func(text, fields)

    def decide(self, text: str, fields: Fields) -> Outcome | None:
        """The same as ``apply``: a custom row has no needles."""
        return self.func(text, fields)


Row = Format | Custom


# Compiled once (with re's default flags, as the re.search calls were): the
# fix-ups run for every Exim and Sendmail field.
_SUB_HELO = re.compile(r"helo=(\S+)")
_SUB_IDENT = re.compile(r"ident=(\S*)")
_IDENT_PREFIXES = (re.compile(r"^IDENT:([^@]*)@"), re.compile(r"^([^@]*)@"))


def fixup_sub_clause(fields: Fields, match: re.Match[str]) -> None:
    """Exim "(helo=x ident=y)": SA removes helo= first, then looks for ident=."""
    sub = fields.pop("sub", "")
    helo = _SUB_HELO.search(sub)
    if helo:
        fields["helo"] = helo.group(1)
        sub = sub[: helo.start()] + sub[helo.end() :]
    ident = _SUB_IDENT.search(sub)
    if ident:
        fields["ident"] = ident.group(1)


def fixup_sendmail_ident(fields: Fields, match: re.Match[str]) -> None:
    """Sendmail "(IDENT:user@host [ip])": the ident moves out of the rDNS."""
    for prefix in _IDENT_PREFIXES:
        found = prefix.match(fields["rdns"])
        if found:
            fields["ident"] = found.group(1)
            fields["rdns"] = fields["rdns"][found.end() :]


def fixup_strip_at(fields: Fields, match: re.Match[str]) -> None:
    """qmail "(user@ip)": the ident without its "@"."""
    fields["ident"] = fields.get("ident", "").removesuffix("@")


def fixup_no_id(fields: Fields, match: re.Match[str]) -> None:
    """Exchange: SA drops the id (it is a server build number)."""
    fields["id"] = ""


def fixup_no_by(fields: Fields, match: re.Match[str]) -> None:
    """Synthetic originating relays have no receiving host."""
    fields["by"] = ""


def fixup_xmail(fields: Fields, match: re.Match[str]) -> None:
    """XMail: id and envelope sender come from " id <x>" and " from <x>"."""
    text = match.string
    found_id = re.search(r" id <(\S+)>", text)
    if found_id:
        fields["id"] = found_id.group(1)
    found_from = re.search(r" from <(\S+)>", text)
    if found_from:
        fields["envfrom"] = found_from.group(1)


def fixup_courier_rdns(fields: Fields, match: re.Match[str]) -> None:
    """Courier: "softdnserr" means the lookup failed, not a name (SA bug 2326)."""
    if match.group(2) != "softdnserr":
        fields["rdns"] = match.group(2)


def fixup_unverified_rdns(fields: Fields, match: re.Match[str]) -> None:
    """simta: "unverified" is not an rDNS name."""
    if fields["rdns"] == "unverified":
        fields["rdns"] = ""


def row(
    name: str,
    pattern: str,
    *groups: str,
    outcome: Outcome = Outcome.RELAY,
    family: str = "",
    guards: tuple[str, ...] = (),
    unless: str = "",
    fixup: Callable[[Fields, re.Match[str]], None] | None = None,
) -> Format:
    """One table row from pattern text (compiled here, once, at import)."""
    return Format(
        name,
        rx(pattern),
        groups,
        outcome,
        family,
        tuple(rx(guard) for guard in guards),
        rx(unless) if unless else None,
        fixup,
    )


def first_group(pattern: str, text: str) -> str:
    """Group 1 of the first match of ``pattern`` in ``text``, or ""."""
    found = re.search(pattern, text, re.ASCII)
    return found.group(1) if found else ""


def fixup_hotmail(fields: Fields, match: re.Match[str]) -> None:
    """Hotmail: the IP, when present, is the first word (SA keeps "" otherwise)."""
    ip = first_group(rf"^({IP}) ", match.string)
    if ip:
        fields["ip"] = ip


def fixup_obtuse(fields: Fields, match: re.Match[str]) -> None:
    """Obtuse smtpd: a missing "claiming to be" HELO clears the HELO."""
    fields["helo"] = match.group(3) or ""


ENV = r"( \(envelope-sender <\S+>\))?"


def exim_bits(text: str, fields: Fields) -> Outcome | None:
    """Odd Exim shapes: SA takes little bits, and keeps them even on failure."""
    if found := re.match(r"(\S+) ", text):
        fields["rdns"] = found.group(1)
    if found := re.search(r" \((\S+)\) ", text, re.ASCII):
        fields["helo"] = found.group(1)
    if found := re.search(rf" \[({IP})(?:\.\d+)?\] ", text, re.ASCII):
        fields["ip"] = found.group(1)
    if found := re.search(r"by (\S+) ", text, re.ASCII):
        fields["by"] = found.group(1)
        if fields.get("ip"):
            return Outcome.RELAY
    return None


# SA's general qmail shape; "( \(.+\))*" is written "(?: \(.+\))?", the same
# language without the nested quantifier (which backtracks exponentially).
_QMAIL_SHAPE = rx(
    rf"^\S+( \((?:HELO|EHLO) \S*\))? \((\S+\@)?\[?{IP}\]?\){ENV} by \S+(?: \(.+\))?"
    r" with (.* )?(SMTP|QMQP)(?! id )"
)
# fmt: off
_QMAIL_ROWS = (
    row("qmail-helo-ident",
        rf"^(\S+) \((?:HELO|EHLO) ([^ \(\)]*)\) \((\S*)\@\[?({IP})\]?\){ENV} by (\S+)",
        "rdns", "helo", "ident", "ip", "", "by"),
    row("qmail-helo", rf"^(\S+) \((?:HELO|EHLO) ([^ \(\)]*)\) \(\[?({IP})\]?\){ENV} by (\S+)",
        "rdns", "helo", "ip", "", "by"),
    row("qmail-ident", rf"^(\S+) \((\S*)\@\[?({IP})\]?\){ENV} by (\S+)",
        "rdns+helo", "ident", "ip", "", "by"),
    row("qmail-plain", rf"^(\S+) \(\[?({IP})\]?\){ENV} by (\S+)", "rdns+helo", "ip", "", "by"),
)
# fmt: on


def qmail(text: str, fields: Fields) -> Outcome | None:
    """SA's general qmail shape, then its four sub-shapes (first match sets fields)."""
    if _QMAIL_SHAPE.search(text) is None:
        return None
    for qmail_row in _QMAIL_ROWS:
        if qmail_row.apply(text, fields):
            break
    return Outcome.RELAY


def guess_helo(text: str, fields: Fields) -> Outcome | None:
    """SA: "if we still haven't figured out the HELO string, guess" (never decides)."""
    if not fields.get("helo") and (found := re.match(r"(\S+)[^-A-Za-z0-9.]", text, re.ASCII)):
        fields["helo"] = found.group(1)
    return None
