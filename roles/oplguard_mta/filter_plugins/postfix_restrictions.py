"""Jinja filters of the role oplguard_mta: put one restriction into a Postfix restriction list,
or take it out, leaving every other item as the admin wrote it.

    {{ value | oplguard_postfix_with('oplguard_policy', 'permit_mynetworks') }}
    {{ value | oplguard_postfix_without('oplguard_policy') }}

Postfix evaluates the list in order and stops at the first OK/REJECT; a trailing ``permit`` would
make anything after it dead, so the token goes in front of it. Tested in
tests/unit/roles/test_postfix_restrictions.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SEPARATORS = " \t,"
TRAILING_PERMIT = re.compile(r"(^|[\s,]+)permit\s*$")


def _token(token: str) -> re.Pattern[str]:
    return re.compile(rf"(^|[\s,]+){re.escape(token)}(?=[\s,]|$)")


def postfix_without(value: str, token: str) -> str:
    """``value`` without ``token`` (every occurrence)."""
    return _token(token).sub("", value or "").strip(SEPARATORS)


def postfix_with(value: str, token: str, when_empty: str = "") -> str:
    """``value`` with ``token`` once, last but before a trailing ``permit``.

    An empty list becomes ``when_empty`` followed by the token (Postfix's default recipient
    restrictions are empty; relay control is in smtpd_relay_restrictions).
    """
    rest = postfix_without(value, token)
    if not rest:
        return f"{when_empty}, {token}" if when_empty else token
    permit = TRAILING_PERMIT.search(rest)
    if permit is not None:
        return f"{rest[: permit.start()]}, {token}, permit"
    return f"{rest}, {token}"


class FilterModule:
    """Ansible's entry point for role-local filters."""

    def filters(self) -> dict[str, Callable[..., str]]:
        return {
            "oplguard_postfix_with": postfix_with,
            "oplguard_postfix_without": postfix_without,
        }
