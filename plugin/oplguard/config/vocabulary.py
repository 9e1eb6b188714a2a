"""The config's fixed vocabularies, each a StrEnum defined once: its values are the words the
config file, the command line and the control socket use.  ``words`` and ``member`` are how
every vocabulary of oplguard (these and the services' own) is listed and read."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

Word = TypeVar("Word", bound=StrEnum)


def words(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    """A vocabulary's words as plain strings, in their order (argparse choices, schemas,
    messages: a member's repr() is not its word)."""
    return tuple(word.value for word in vocabulary)


def member(vocabulary: type[Word], text: str) -> Word | None:
    """The member whose word is ``text``, or None for any other text."""
    try:
        return vocabulary(text)
    except ValueError:
        return None


class Action(StrEnum):
    """What happens to a message, strongest first; a group acts with all but ``pass``."""

    REJECT = "reject"
    DELETE = "delete"
    TAG = "tag"
    PASS = "pass"


# The actions a group or a Blocked Senders entry may take (config ``action``).
ACTIONS = (Action.REJECT, Action.DELETE, Action.TAG)


class Scope(StrEnum):
    """Where an Allowed/Blocked Senders entry applies: the connecting IP, or any hop."""

    CONNECTION = "connection"
    HOP = "hop"


SCOPES = tuple(Scope)


class ListFormat(StrEnum):
    """How a list file is written: one entry a line, or rbldnsd's dataset syntaxes."""

    PLAIN = "plain"
    IP4SET = "ip4set"
    IP6TSET = "ip6tset"


class OnError(StrEnum):
    """What a DNS list that cannot answer does: no hit, a scored symbol, or a deferral."""

    IGNORE = "ignore"
    SCORE = "score"
    TEMPFAIL = "tempfail"


class LogFormat(StrEnum):
    """How log lines are written: plain text, or one JSON object a line."""

    TEXT = "text"
    JSON = "json"


class Threshold(StrEnum):
    """Whose required score decides spam when an upstream spamd answers too."""

    UPSTREAM = "upstream"
    OPLGUARD = "oplguard"
