"""A DNS list's return-code rules: parsed once with the config, matched per answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from oplguard.config.loader import load
from oplguard.config.model import DnsblConfig
from oplguard.errors import ConfigError
from oplguard.lists.dnsbl import AnswerStatus, classify

CODES = (
    ("127.0.0.2", "open-proxy"),
    ("127.0.0.8/29", "zombie"),
    ("127.0.0.20-127.0.0.22", "spam-source"),
    ("mask:0x40", "masked"),
)


@pytest.mark.parametrize(
    ("answer", "category"),
    [
        ("127.0.0.2", "open-proxy"),
        ("127.0.0.8", "zombie"),
        ("127.0.0.15", "zombie"),
        ("127.0.0.21", "spam-source"),  # a range: crashed the query before (parsed per answer)
        ("127.0.0.64", "masked"),
    ],
)
def test_each_kind_of_rule_names_its_category(answer: str, category: str) -> None:
    found = classify([answer], DnsblConfig("d", "d.test", returncodes=CODES))
    assert (found.status, found.category) == (AnswerStatus.LISTED, category)


@pytest.mark.parametrize("answer", ["127.0.0.3", "127.0.0.16", "127.0.0.23"])
def test_an_answer_no_rule_covers_is_clean(answer: str) -> None:
    assert (
        classify([answer], DnsblConfig("d", "d.test", returncodes=CODES)).status
        == AnswerStatus.CLEAN
    )


def test_the_config_holds_the_rules_parsed() -> None:
    rules = DnsblConfig("d", "d.test", returncodes=CODES).rules
    assert [rule for rule, _ in rules] == [
        (0, 4, 0x7F000002, 0x7F000002),
        (0, 4, 0x7F000008, 0x7F00000F),
        (0, 4, 0x7F000014, 0x7F000016),
        (0x40, 0, 0, 0),
    ]


def test_a_bad_rule_is_a_config_error_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[dnsbls]]\nname = "d"\nzone = "d.test"\n[dnsbls.returncodes]\n"127.0.0.x" = "a"\n'
    )
    with pytest.raises(ConfigError) as refused:
        load(path)
    assert "bad return code rule '127.0.0.x'" in str(refused.value)
    assert refused.value.path == str(path)
    assert "127.0.0.2-127.0.0.5" in refused.value.fix
