"""The fixed vocabularies are StrEnums whose values are the strings the config, the
command line, the control socket, the database, the web service and Postfix have always
used, in the same order."""

from __future__ import annotations

import argparse
import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from oplguard.cli import parser
from oplguard.commands import removals, track
from oplguard.config.loader import load
from oplguard.config.vocabulary import (
    ACTIONS,
    SCOPES,
    Action,
    ListFormat,
    LogFormat,
    OnError,
    Scope,
    Threshold,
)
from oplguard.errors import ConfigError
from oplguard.levelnames import LEVEL_NAMES, Level
from oplguard.lists.dnsbl import AnswerStatus
from oplguard.lists.health import HealthState
from oplguard.lists.status import FileState
from oplguard.observability.levels import COMPONENT_LOGGERS, COMPONENTS, Component
from oplguard.policy.verdict import ACTION_RANK
from oplguard.policyd.decision import PolicyAction
from oplguard.removals.vocabulary import (
    AuditAction,
    DeliveryStatus,
    RequestStatus,
    ReviewAction,
    SubmissionStatus,
)
from oplguard.web.rdns import GenericKind, RdnsStatus


def test_values_are_the_strings_in_their_order() -> None:
    assert [str(a) for a in Action] == ["reject", "delete", "tag", "pass"]
    assert list(ACTIONS) == ["reject", "delete", "tag"]
    assert list(SCOPES) == [str(s) for s in Scope] == ["connection", "hop"]
    assert list(LEVEL_NAMES) == [str(x) for x in Level]
    assert list(LEVEL_NAMES) == ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    assert list(COMPONENTS) == ["protocol", "relays", "lists", "policy", "tracking", "web"]
    assert [str(c) for c in Component] == list(COMPONENTS)
    assert COMPONENT_LOGGERS["relays"] == "oplguard.relays"


# The words each service vocabulary writes: to the database (request and notice
# statuses), the JSON API and pages (those and the rDNS status), Postfix (actions).
SERVICE_WORDS = [
    (RequestStatus, ["pending", "approved", "denied"]),
    (SubmissionStatus, ["not-listed", "submitted", "merged"]),
    (DeliveryStatus, ["pending", "sent", "failed"]),
    (PolicyAction, ["DUNNO", "REJECT", "DEFER_IF_PERMIT"]),
    (RdnsStatus, ["present", "missing", "timeout", "error"]),
    (AnswerStatus, ["listed", "clean", "error"]),
    (GenericKind, ["ip-digits", "keyword"]),
    (ReviewAction, ["approve", "deny"]),
    (HealthState, ["healthy", "monitor-only", "unreachable"]),
    (FileState, ["loaded", "missing", "error"]),
    (
        AuditAction,
        [
            "submitted",
            "merged",
            "approved",
            "denied",
            "approve-refused",
            "deny-refused",
            "approve-failed",
            "approve-repaired",
            "notified",
            "notice-failed",
        ],
    ),
]


@pytest.mark.parametrize(
    ("words", "values"), SERVICE_WORDS, ids=lambda x: getattr(x, "__name__", "")
)
def test_service_vocabularies_keep_their_words(words: type[StrEnum], values: list[str]) -> None:
    assert [str(word) for word in words] == values


def test_members_read_and_write_as_their_strings() -> None:
    assert json.dumps({Component.WEB: Action.TAG}) == '{"web": "tag"}'
    assert f"{Scope.HOP}|{Level.INFO:<8}|" == "hop|INFO    |"
    assert sorted(ACTION_RANK, key=ACTION_RANK.__getitem__) == ["pass", "tag", "delete", "reject"]


def test_the_command_line_offers_the_vocabularies() -> None:
    assert track.ACTIONS == ("reject", "delete", "tag", "pass")
    assert all(type(action) is str for action in track.ACTIONS)  # argparse quotes repr()
    assert removals.STATUSES == ("pending", "approved", "denied")
    assert all(type(status) is str for status in removals.STATUSES)
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    level_help = " ".join(sub.choices["log-level"].format_help().split())
    assert "(protocol relays lists policy tracking web)" in level_help


# Where the config file takes a word of each vocabulary: (table text, key, enum, member path).
CONFIG_WORDS = [
    ('[[lists]]\nname = "a"\npath = "a.txt"\n', "format", ListFormat, ("lists", 0, "format")),
    ('[[dnsbls]]\nname = "a"\nzone = "a.test"\n', "on_error", OnError, ("dnsbls", 0, "on_error")),
    ("[groups.g]\nlists = []\n", "action", Action, ("groups", 0, "action")),
    ('[[allowed_senders]]\nip = "192.0.2.1"\n', "scope", Scope, ("allowed_senders", 0, "scope")),
    ("[upstream]\n", "threshold", Threshold, ("upstream", None, "threshold")),
    ("", "log_format", LogFormat, (None, None, "log_format")),
]


@pytest.mark.parametrize(("table", "key", "words", "where"), CONFIG_WORDS)
def test_the_config_takes_each_word_as_its_member_and_no_other(
    table: str, key: str, words: type[StrEnum], where: tuple[Any, ...], tmp_path: Path
) -> None:
    path = tmp_path / "words.toml"
    for word in words:
        if words is Action and word == Action.PASS:
            continue  # not a group's action (ACTIONS)
        path.write_text(f'{key} = "{word}"\n' if not table else f'{table}{key} = "{word}"\n')
        held: Any = load(path)
        for step in where:
            if step is not None:
                held = held[step] if isinstance(step, int) else getattr(held, step)
        assert held is word  # the member itself, not a string equal to it
    path.write_text(f'{table}{key} = "nonsense"\n')
    with pytest.raises(ConfigError) as refused:
        load(path)
    assert f"unknown {key}" in str(refused.value) or "unknown list format" in str(refused.value)
    assert refused.value.fix
