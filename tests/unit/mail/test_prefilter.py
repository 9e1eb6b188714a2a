"""Literal prefilters (mail/prefilter.py): only mandatory literals, and never a missed match."""

from __future__ import annotations

import re

import pytest
from tests.unit.mail.corpus import samples, unfolded

from oplguard.mail import prefilter
from oplguard.mail.auth import AUTH_RULES, AuthRule
from oplguard.mail.formats import Format
from oplguard.mail.mta_table import FROM_ROWS, PAREN_ROWS, SIMTA_ROWS
from oplguard.mail.received import clean, strip_date


@pytest.mark.parametrize(
    ("pattern", "wanted"),
    [
        (r"with Microsoft SMTPSVC", ("with Microsoft SMTPSVC",)),
        (r"foo (bar)? baz", ("foo ", " baz")),  # "bar" is optional
        (r"abc(?:def)+ghi", ("abc", "def", "ghi")),  # a repeat of at least one is mandatory
        (r"abc(?:def)*", ("abc",)),
        (r"(?:one|two) three", (" three",)),  # alternatives give nothing
        (r"(?!never)here", ("here",)),  # look-arounds give nothing
        (r"(?i:Exim) by x", (" by x",)),  # case-insensitive parts give nothing
        (r"\(from x", ("(from x",)),
        (r"a.b", ()),  # runs shorter than MIN_NEEDLE_CHARS
    ],
)
def test_mandatory_literals(pattern: str, wanted: tuple[str, ...]) -> None:
    assert sorted(prefilter.needles(re.compile(pattern, re.ASCII))) == sorted(wanted)


def test_case_insensitive_pattern_has_no_needles() -> None:
    assert prefilter.needles(re.compile("Received from", re.IGNORECASE)) == ()


def test_absent() -> None:
    assert prefilter.absent(("Exim", " by "), "from x by y")
    assert not prefilter.absent(("Exim", " by "), "from x by y (Exim 4.97)")
    assert not prefilter.absent((), "anything")


ROWS = [r for r in FROM_ROWS + PAREN_ROWS + SIMTA_ROWS if isinstance(r, Format)]


def test_most_rows_are_prefiltered() -> None:
    assert sum(1 for r in ROWS if r.required) >= len(ROWS) * 0.9


def test_no_corpus_match_is_filtered_away() -> None:
    """Wherever a row's pattern (or an auth rule) matches a corpus field, its needles are there."""
    texts = [strip_date(clean(unfolded(s.value))) for s in samples()]
    checked = 0
    for text in texts:
        for rest in (text, text.removeprefix("from "), text.removeprefix("(from ")):
            for row in ROWS:
                if row.pattern.search(rest) and all(g.search(rest) for g in row.guards):
                    assert not prefilter.absent(row.required, rest), (row.name, rest)
                    checked += 1
            for rule in AUTH_RULES:
                if not isinstance(rule, AuthRule) or not rule.pattern.search(rest):
                    continue
                if all(g.search(rest) for g in rule.guards):
                    assert not prefilter.absent(rule.required, rest), (rule.name, rest)
                    checked += 1
    assert checked > 100


def test_auth_gates_are_needles_of_their_rules() -> None:
    """Each gated auth rule needs one of the gates: a field with none can only match the rest."""
    from oplguard.mail import auth

    for rule in AUTH_RULES:
        if rule in auth._UNGATED:
            continue
        assert any(gate in needle for gate in auth._GATES for needle in rule.required), rule.name


def test_auth_gate_gives_the_plain_loop_answers_on_the_corpus() -> None:
    from oplguard.mail.auth import detect_auth

    def plain(text: str) -> str:
        return next((f for rule in AUTH_RULES if (f := rule.detect(text)) is not None), "")

    texts = [strip_date(clean(unfolded(s.value))) for s in samples()]
    assert sum(1 for text in texts if plain(text)) > 10
    for text in texts:
        assert detect_auth(text) == plain(text), text
