"""Authentication tokens in a ``Received`` field, as SpamAssassin finds them (relay-chain.md §3.4).

Pure: no I/O.  A table of SA's tests in SA's order; the first that matches names
the ``auth`` value (e.g. ``ESMTPSA``, ``Postfix``, ``Sendmail``, ``LOGIN``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from oplguard.mail.addresses import IP_ADDRESS as IP
from oplguard.mail.formats import Pattern, rx
from oplguard.mail.prefilter import absent, any_in, needles

Namer = Callable[[re.Match[str]], str]


@dataclass(frozen=True, slots=True)
class AuthRule:
    """One SA test: every guard must match, then ``pattern`` names the token."""

    name: str
    pattern: Pattern
    namer: Namer
    guards: tuple[Pattern, ...] = ()
    # Literals the pattern and every guard need (see prefilter.py).
    required: tuple[str, ...] = field(default=(), init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "required", needles(self.pattern, *self.guards))

    def detect(self, text: str) -> str | None:
        """The auth value when this rule matches ``text``, else None."""
        if absent(self.required, text):
            return None
        for guard in self.guards:  # a loop: any() over a generator costs more here
            if guard.search(text) is None:
                return None
        match = self.pattern.search(text)
        return None if match is None else self.namer(match)


def _group1(match: re.Match[str]) -> str:
    return match.group(1)


def _fixed(value: str) -> Namer:
    return lambda match: value


def _postfix(match: re.Match[str]) -> str:
    # Normally "Postfix", but mail_name may change it (SA bug 5646).
    return "Postfix" if match.group(1) == "Postfix" else f"Postfix ({match.group(1)})"


@dataclass(frozen=True, slots=True)
class StepRule:
    """SA's Sendmail/MDaemon test ``^from .*?X .*?\\(.*?authenticated.*?\\).*? by``.

    Nested lazy quantifiers backtrack polynomially on hostile input, so the
    same existence test is made piece by piece: taking the earliest end of
    each piece is always the best start for the next one.
    """

    name: str
    steps: tuple[Pattern, ...]
    value: str
    prefix: str = "from "
    required: tuple[str, ...] = field(default=(), init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "required", needles(*self.steps))

    def detect(self, text: str) -> str | None:
        """``value`` when every piece is found in order after ``prefix``, else None."""
        if not text.startswith(self.prefix) or absent(self.required, text):
            return None
        position = len(self.prefix)
        for step in self.steps:
            found = step.search(text, position)
            if found is None:
                return None
            position = found.end()
        return self.value


_BY = rx(r" by ")
_SENDMAIL_STEPS = (
    rx(r"(?:\](?: \([^)]*\))?\)|\)\]) "),
    rx(r"\("),
    rx(r"authenticated"),
    rx(r"\)"),
    rx(r" by"),
)

_GMAIL_ID = (
    r" by mx\.google\.com with ESMTPS id [a-z0-9]{1,4}sm[0-9]{2,9}[a-z]{3}\.[0-9]{1,3}"
    r"\.[0-9]{4}\.(?:[0-6][0-9]\.){4}[0-6][0-9]"
)

AUTH_RULES: tuple[AuthRule | StepRule, ...] = (
    # RFC 3848 / RFC 4954 / RFC 6531 "with" keywords; ASMTP (Exim, Earthlink); webmail.
    AuthRule(
        "with-keyword",
        rx(r" with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$)", re.IGNORECASE),
        _group1,
        (_BY,),
    ),
    AuthRule(
        "gmail",
        rx(r"\(version=([^ ]+) cipher=([^\)]+)\)"),
        lambda m: f"GMail - transport={m.group(1)} cipher={m.group(2)}",
        (rx(_GMAIL_ID),),
    ),
    AuthRule(
        "courier",
        rx(r"^from .*?(?:\]\)|\)\]) \(AUTH: (LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \S+(?:, .*?)?\) by "),
        _group1,
    ),
    StepRule("sendmail", _SENDMAIL_STEPS, "Sendmail"),
    AuthRule(
        "gmx",
        rx(
            rf"from \S* \((?:HELO|EHLO) (\S*)\) \[({IP})\] by (mail\.gmx\.(?:net|com))"
            r" \([^\)]+\) with ((?:ESMTP|SMTP))"
        ),
        lambda m: f"GMX ({m.group(4)} / {m.group(3)})",
    ),
    AuthRule(
        "critical-path",
        rx(r"\) by .+ \(\d{1,2}\.\d\.\d{3}(?:\.\d{1,3})?\) \(authenticated as .+\) id "),
        _fixed("CriticalPath"),
        (rx(r" \(authenticated as "),),
    ),
    AuthRule(
        "postfix", rx(r"\) \(Authenticated sender: \S+\) by \S+ \(([^\)]+)\) with "), _postfix
    ),
    AuthRule(
        "communigate",
        rx(r" \(account "),
        _fixed("Communigate"),
        (rx(r"CommuniGate Pro (HTTP|SMTP|XIMSS|IMAP)"),),
    ),
    AuthRule("exchange-dav", rx(r" with Microsoft Exchange Server HTTP-DAV\b"), _fixed("HTTP-DAV")),
    AuthRule("via-http", rx(r" \(via (HTTP.?)\)(?: |;|$)", re.IGNORECASE), _group1, (_BY,)),
)


# A needle shorter than this (" by ") is in nearly every field: it gates nothing.
GATE_MIN_CHARS = 6


def _gate(rule: AuthRule | StepRule) -> str:
    """A literal ``rule`` cannot match without, long enough to be rare ("" if none)."""
    return next((needle for needle in rule.required if len(needle) >= GATE_MIN_CHARS), "")


def _fewest(gates: set[str]) -> tuple[str, ...]:
    """Drop a gate that contains another: finding the shorter one is needed anyway."""
    return tuple(sorted(g for g in gates if not any(o != g and o in g for o in gates)))


# Most fields carry no auth keyword at all: when none of the gates is in a field,
# only the rules without one can match, tried in the same (SA's) order.
_GATES = _fewest({gate for rule in AUTH_RULES if (gate := _gate(rule))})
_UNGATED = tuple(rule for rule in AUTH_RULES if not _gate(rule))


def detect_auth(text: str) -> str:
    """SA's ``auth`` value for a cleaned field (``from …`` still on), or ""."""
    rules = AUTH_RULES if any_in(_GATES, text) else _UNGATED
    for rule in rules:
        found = rule.detect(text)
        if found is not None:
            return found
    return ""
