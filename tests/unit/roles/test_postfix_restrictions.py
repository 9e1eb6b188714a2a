"""The role oplguard_mta's filters that put its policy check into Postfix's restriction lists."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

PLUGIN = (
    Path(__file__).resolve().parents[3]
    / "roles"
    / "oplguard_mta"
    / "filter_plugins"
    / "postfix_restrictions.py"
)


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("postfix_restrictions", PLUGIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


filters = load()
DEFAULT = "permit_mynetworks, permit_sasl_authenticated"


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ("", "permit_mynetworks, permit_sasl_authenticated, oplguard_policy"),
        (
            "permit_mynetworks, reject_unauth_destination",
            "permit_mynetworks, reject_unauth_destination, oplguard_policy",
        ),
        # A trailing permit would make the check dead: it goes in front of it.
        (
            "permit_mynetworks reject_unauth_destination permit",
            "permit_mynetworks reject_unauth_destination, oplguard_policy, permit",
        ),
        # Already there: unchanged (idempotent), wherever the admin moved it.
        ("oplguard_policy, permit_mynetworks", "permit_mynetworks, oplguard_policy"),
        # A map whose path ends in "permit" is not the permit restriction.
        (
            "check_client_access hash:/etc/postfix/permit",
            "check_client_access hash:/etc/postfix/permit, oplguard_policy",
        ),
        # Other policy services and brace groups are left as written.
        (
            "check_policy_service { unix:private/postgrey, timeout=5s }",
            "check_policy_service { unix:private/postgrey, timeout=5s }, oplguard_policy",
        ),
    ],
)
def test_with_adds_the_token_once_before_a_trailing_permit(current: str, wanted: str) -> None:
    assert filters.postfix_with(current, "oplguard_policy", DEFAULT) == wanted
    assert filters.postfix_with(wanted, "oplguard_policy", DEFAULT) == wanted


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ("permit_mynetworks, permit_sasl_authenticated, oplguard_policy", DEFAULT),
        ("oplguard_policy", ""),
        ("oplguard_policy,permit_mynetworks", "permit_mynetworks"),
        ("permit_mynetworks, oplguard_policy, permit", "permit_mynetworks, permit"),
        # Only the exact token: a restriction that merely starts with it stays.
        ("oplguard_policy_other, permit", "oplguard_policy_other, permit"),
    ],
)
def test_without_removes_exactly_the_token(current: str, wanted: str) -> None:
    assert filters.postfix_without(current, "oplguard_policy") == wanted


def test_the_filters_are_registered_under_their_role_names() -> None:
    names = filters.FilterModule().filters()
    assert set(names) == {"oplguard_postfix_with", "oplguard_postfix_without"}
