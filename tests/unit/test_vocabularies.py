"""The fixed vocabularies are StrEnums whose values are the strings the config, the
command line and the control socket have always used, in the same order."""

from __future__ import annotations

import argparse
import json

from oplguard.cli import parser
from oplguard.commands import track
from oplguard.config import ACTIONS, SCOPES, Action, Scope
from oplguard.levelnames import LEVEL_NAMES, Level
from oplguard.observability.levels import COMPONENT_LOGGERS, COMPONENTS, Component
from oplguard.policy.verdict import ACTION_RANK


def test_values_are_the_strings_in_their_order() -> None:
    assert [str(a) for a in Action] == ["reject", "delete", "tag", "pass"]
    assert list(ACTIONS) == ["reject", "delete", "tag"]
    assert list(SCOPES) == [str(s) for s in Scope] == ["connection", "hop"]
    assert list(LEVEL_NAMES) == [str(x) for x in Level]
    assert list(LEVEL_NAMES) == ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    assert list(COMPONENTS) == ["protocol", "relays", "lists", "policy", "tracking", "web"]
    assert [str(c) for c in Component] == list(COMPONENTS)
    assert COMPONENT_LOGGERS["relays"] == "oplguard.relays"


def test_members_read_and_write_as_their_strings() -> None:
    assert json.dumps({Component.WEB: Action.TAG}) == '{"web": "tag"}'
    assert f"{Scope.HOP}|{Level.INFO:<8}|" == "hop|INFO    |"
    assert sorted(ACTION_RANK, key=ACTION_RANK.__getitem__) == ["pass", "tag", "delete", "reject"]


def test_the_command_line_offers_the_vocabularies() -> None:
    assert track.ACTIONS == ("reject", "delete", "tag", "pass")
    assert all(type(action) is str for action in track.ACTIONS)  # argparse quotes repr()
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    level_help = " ".join(sub.choices["log-level"].format_help().split())
    assert "(protocol relays lists policy tracking web)" in level_help
