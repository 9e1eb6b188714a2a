"""Parse one ``Received`` field into a relay, the way SpamAssassin 4.0 does (relay-chain.md §3).

Pure: no I/O, never raises on input.  Fields are SA's (``ip, rdns, helo, by, ident,
envfrom, id, auth``); the IP is canonicalised (spec ★), MTA shapes come from a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from oplguard.mail.addresses import IP_ADDRESS as IP
from oplguard.mail.addresses import canonical_ip
from oplguard.mail.auth import detect_auth
from oplguard.mail.formats import Fields, Format, Outcome, Row, rx
from oplguard.mail.mta_table import FAMILY_GUARDS, FROM_ROWS, PAREN_ROWS, SIMTA_ROWS
from oplguard.mail.prefilter import any_in, needles

# SA Message.pm MAX_HEADER_VALUE_LENGTH: longer values are cut there; it also
# bounds the regex work on hostile input.
MAX_RECEIVED_CHARS = 8192
# A trailing RFC 5322 date is at most ~40 characters; look for it in this tail.
DATE_WINDOW_CHARS = 256
# White space _DATE can match after its separator run: the five spaces of
# "Tue, 1 Oct 2024 10:00:01 +0000", and a final newline before its "$".
DATE_MAX_SPACES = 6
# The mta_table row of SA's qmail-scanner bookkeeping line, whose envelope sender
# SpamAssassin hands to the next relay.
QMAIL_SCANNER_RULE = "qmail-scanner"
FIELD_NAMES = ("ip", "rdns", "helo", "by", "ident", "envfrom", "id")


@dataclass(frozen=True, slots=True)
class Relay:
    """One hand-over, with SpamAssassin's field names (``msa`` is set by the trust walk)."""

    ip: str
    rdns: str = ""
    helo: str = ""
    by: str = ""
    ident: str = ""
    envfrom: str = ""
    id: str = ""
    auth: str = ""
    msa: bool = False


@dataclass(frozen=True, slots=True)
class Skipped:
    """Not a relay (SA "return 0"): local hand-over, bookkeeping, no ``from``.

    ``envfrom``: a qmail-scanner line's envelope sender, which SA carries to the
    next Received line when that one is a relay (Received.pm "qmail-scanner hack").
    """

    rule: str
    envfrom: str = ""


@dataclass(frozen=True, slots=True)
class Fetch:
    """A POP/IMAP fetch hand-over: skipped, and restarts the chain (relay-chain.md §3.2)."""

    rule: str


@dataclass(frozen=True, slots=True)
class Unparseable:
    """SA could not parse it (SA "undef"): counted, no relay, trust unaffected."""

    reason: str


ParseResult = Relay | Skipped | Fetch | Unparseable

_DATE = rx(
    r"[\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?\d+"
    r" (?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec) \d+ \d+:\d+(?::\d+)? \S+$"
)
_STARTS_FROM = rx(r"\(?from ", re.IGNORECASE)
_WITH_LOCAL_FOR = rx(r"\bwith local for\b")
_FROM_BY_ONLY = rx(r"from (\S+) by [^\s;]+ ?;", re.IGNORECASE)
_BRACKET_V4 = rx(r"\[[\d.]+\]")
_ID = rx(r" id <?([^\s<>;]{3,})")
_HELO_CHARS = r"[-A-Za-z0-9.^+_&:=?!@%*$\\/]"
_HELO_EQ = rx(rf"\bhelo=({_HELO_CHARS}+)")
_HELO_WORD = rx(rf"\b(?:HELO|EHLO) ({_HELO_CHARS}+)")
_BY = rx(r" by (\S+)")
_ENVFROM = rx(r"(?:return-path:? |envelope-(?:sender|from)[ =])(\S+)\b", re.IGNORECASE)
_FALLBACK_IP = rx(rf"\[({IP})\]")
# SA: these characters inside fields become "!" (a literal HELO shows as !1.2.3.4!).
_STRIP_CHARS = rx(r"[\s\x00#\[\]()<>|]")
_IPV6_PREFIX = rx(r"^ipv6:", re.IGNORECASE)
_ZONE = rx(r"%[A-Z0-9._~-]*\Z", re.IGNORECASE)
_MAPPED = rx(r"^0*:0*:(?:0*:)*ffff:(\d+\.\d+\.\d+\.\d+)$", re.IGNORECASE)


_SPACES = rx(r"\s+")
# What _SPACES would change: a white-space character (ASCII \s) other than one
# lone space.  Substring tests: a regex alternation scans ten times slower.
_SPACE_FIXES = ("  ", "\t", "\n", "\r", "\x0b", "\x0c")
_ENVFROM_HEAD = re.compile(r"^\s*<*")
_ENVFROM_TAIL = re.compile(r">*\s*$")


def sa_charset(text: str) -> str:
    """A header value as SpamAssassin 4 normalises 8-bit header text (Message/Node.pm
    ``_normalize`` with charset UTF-8): valid UTF-8 is read as UTF-8, anything else
    as Windows-1252 (bytes it leaves undefined become U+FFFD), as SA does without
    Encode::Detect (the Debian package's default).

    ``text`` holds the header's bytes read as latin-1 (mail/headers.py).
    """
    if text.isascii():  # nearly every field: nothing to do
        return text
    raw = text.encode("latin-1", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def clean(value: str) -> str:
    """SA's first clean-up: cut, read 8-bit text as SA does, collapse white space,
    drop trailing ``;``."""
    text = sa_charset(value[:MAX_RECEIVED_CHARS])
    if any_in(_SPACE_FIXES, text):  # most unfolded fields need nothing
        text = _SPACES.sub(" ", text)
    text = text.strip(" ")
    # SA: 1 while s/\s?;$//
    while text.endswith(";"):
        text = text[:-1]
        if text.endswith(" "):
            text = text[:-1]
    return text


def _date_search_start(text: str) -> int:
    """Where to search for _DATE: no match can start before this.

    The regex tries every position of the window (4 us a field).  A match is a
    [\\s;] run, then at most DATE_MAX_SPACES white space to the end: so it starts
    in the run holding the space before those, or later.  Found with rfind
    when " " is the only white space (always, after clean()).
    """
    start = max(0, len(text) - DATE_WINDOW_CHARS)
    for other in _SPACE_FIXES[1:]:
        if other in text:
            return start
    # One C call: the text before the (DATE_MAX_SPACES + 1)th-last space.
    parts = text.rsplit(" ", DATE_MAX_SPACES + 1)
    cut = len(parts[0])
    if len(parts) <= DATE_MAX_SPACES + 1 or cut < start:
        return start
    while cut > start and text[cut - 1] in " ;":
        cut -= 1
    return cut


def strip_date(text: str) -> str:
    """Drop a trailing ``; <RFC 5322 date>`` and fix ``)by`` (SA, after the skip checks)."""
    date = _DATE.search(text, _date_search_start(text))
    if date is not None:
        start = date.start()
        # The separator run is [\s;]+, and SA takes the leftmost start of it.
        while start > 0 and text[start - 1] in " ;":
            start -= 1
        text = text[:start]
    return text.replace(")by ", ") by ", 1)


@dataclass(frozen=True, slots=True)
class Branch:
    """SA's three entry shapes, told apart by the field's first word (case matters)."""

    prefix: str
    rows: tuple[Row, ...]
    reads_envfrom: bool = False
    # The rows SA tries for each family (see _family), worked out once here
    # rather than testing every row's family for every field.  Same rows, same
    # order, each with its needles (Format.required) so _dispatch can skip it.
    by_family: dict[str, tuple[tuple[tuple[str, ...], Row], ...]] = field(
        default_factory=dict, init=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        for family in ("", *(name for name, _guard in FAMILY_GUARDS)):
            self.by_family[family] = tuple(
                (row.required if isinstance(row, Format) else (), row)
                for row in self.rows
                if not row.family or row.family == family
            )


BRANCHES = (
    Branch("from ", FROM_ROWS, reads_envfrom=True),
    Branch("FROM ", SIMTA_ROWS),
    Branch("(from ", PAREN_ROWS),
)


def _not_from(text: str) -> bool:
    return _STARTS_FROM.match(text) is None


def _from_by_without_ip(text: str) -> bool:
    # "from virtual-access.org by bolero.conactive.com ;" but not "from [1.2.3.4] by x;"
    found = _FROM_BY_ONLY.match(text)
    return found is not None and _BRACKET_V4.fullmatch(found.group(1)) is None


def _with_local_for(text: str) -> bool:
    # The substring test first: the regex starts with \b, so it cannot skip ahead.
    return "with local for" in text and _WITH_LOCAL_FOR.search(text) is not None


def _early_skip(text: str) -> str:
    """The rule of SA's first skip checks that applies to ``text`` (in SA's order), or ""."""
    if _not_from(text):
        return "not-from"
    if _with_local_for(text):
        return "with-local-for"
    if _from_by_without_ip(text):
        return "from-by-without-ip"
    return ""


def parse_received(value: str) -> ParseResult:
    """Parse one unfolded ``Received`` value (without the field name).

    Returns a ``Relay`` (a hand-over with a usable client IP), ``Skipped``,
    ``Fetch`` or ``Unparseable``, as SpamAssassin 4.0 would classify it.
    """
    text = clean(value)
    if rule := _early_skip(text):
        return Skipped(rule)
    text = strip_date(text)
    fields = _prescan(text)
    auth = detect_auth(text)
    outcome, rule = _dispatch(text, fields)
    if outcome is Outcome.SKIP:
        carried = _clean_envfrom(fields["envfrom"]) if rule == QMAIL_SCANNER_RULE else ""
        return Skipped(rule, carried)
    if outcome is Outcome.FETCH:
        return Fetch(rule)
    if outcome is None:
        if not fields.get("ip") and (found := _FALLBACK_IP.search(text)):
            fields["ip"] = found.group(1)
        if not (fields.get("ip") and fields.get("by")):
            return Unparseable("no client IP and receiving host found")
    return _relay(fields, auth)


def _prescan(text: str) -> Fields:
    fields: Fields = dict.fromkeys(FIELD_NAMES, "")
    if found := _ID.search(text):
        fields["id"] = found.group(1)
    if found := _helo(text):
        fields["helo"] = found.group(1)
    if found := _BY.search(text):
        fields["by"] = found.group(1)
    return fields


def _helo(text: str) -> re.Match[str] | None:
    # Substring tests first: both regexes start with \b, so they cannot skip ahead.
    found = _HELO_EQ.search(text) if "helo=" in text else None
    if found is None and ("HELO " in text or "EHLO " in text):
        found = _HELO_WORD.search(text)
    return found


# Each family guard with the literals it needs (prefilter.py): most fields
# carry none of " SMTPSVC", "Exim", "[XMail "..., so no regex runs.
_FAMILIES = tuple((name, guard, needles(guard)) for name, guard in FAMILY_GUARDS)


def _family(text: str) -> str:
    for name, guard, required in _FAMILIES:
        for needle in required:  # inlined prefilter.absent: this runs 8 times a field
            if needle not in text:
                break
        else:
            if guard.search(text):
                return name
    return ""


def _dispatch(text: str, fields: Fields) -> tuple[Outcome | None, str]:
    for branch in BRANCHES:  # a loop: next() over a generator costs more
        if text.startswith(branch.prefix):
            break
    else:
        return None, ""
    rest = text[len(branch.prefix) :]
    if branch.reads_envfrom and (found := _envfrom(rest)):
        fields["envfrom"] = found.group(1)
    for required, candidate in branch.by_family[_family(rest)]:
        for needle in required:  # most rows lack a keyword: no call at all then
            if needle not in rest:
                break
        else:
            outcome = candidate.decide(rest, fields)  # needles checked: not again in apply()
            if outcome is not None:
                return outcome, candidate.name
    return None, ""


def _envfrom(text: str) -> re.Match[str] | None:
    # _ENVFROM ignores ASCII case, so it cannot skip ahead to a literal; its
    # keywords in lower case are in text.lower() whenever it matches.
    lowered = text.lower()
    if "return-path" in lowered or "envelope-" in lowered:
        return _ENVFROM.search(text)
    return None


def _relay(fields: Fields, auth: str) -> Relay | Unparseable:
    sa_ip = sa_normal_ip(fields["ip"])
    ip = canonical_ip(sa_ip)
    if ip is None:
        return Unparseable(f"client IP {sa_ip!r} is not a valid address")
    rdns = fields["rdns"].rstrip(".")
    if rdns.lower() == "unknown" or rdns.startswith("["):
        rdns = ""
    envfrom = _clean_envfrom(fields["envfrom"])
    return Relay(
        ip=ip,
        rdns=_bang(rdns),
        helo=_bang(fields["helo"]),
        by=_bang(fields["by"].removesuffix(";")),
        ident=_bang(fields["ident"]),
        envfrom=envfrom,
        id=fields["id"],
        auth=auth,
    )


def _clean_envfrom(envfrom: str) -> str:
    """SA: ``<`` and ``>`` and white space off the ends, strip characters to ``!``."""
    if not envfrom:  # most fields have none, and the subs would leave "" as it is
        return ""
    return _bang(_ENVFROM_TAIL.sub("", _ENVFROM_HEAD.sub("", envfrom)))


def sa_normal_ip(ip: str) -> str:
    """SA's IP clean-up (relay-chain.md §3.7): ``IPv6:``, brackets, zone, ``::ffff:`` removed."""
    if ":" not in ip and "%" not in ip:
        # IPv4 fast path: the IPv6: and ::ffff: patterns need a ":", the zone a "%".
        return ip.removeprefix("[").removesuffix("]")
    ip = _IPV6_PREFIX.sub("", ip).removeprefix("[").removesuffix("]")
    return _MAPPED.sub(r"\1", _ZONE.sub("", ip))


def _bang(value: str) -> str:
    # A search costs half a sub, and most values have nothing to replace.
    if not value or _STRIP_CHARS.search(value) is None:
        return value
    return _STRIP_CHARS.sub("!", value)
