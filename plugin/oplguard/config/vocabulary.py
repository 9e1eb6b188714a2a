"""The config's fixed vocabularies, each a StrEnum defined once: its values are the words the
config file, the command line and the control socket use."""

from __future__ import annotations

from enum import StrEnum


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
