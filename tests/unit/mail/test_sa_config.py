"""Reading trust settings from an existing SpamAssassin local.cf."""

from __future__ import annotations

from pathlib import Path

import pytest

from oplguard.errors import ConfigError
from oplguard.mail.relays import DEFAULT_ORIGINATING_HEADERS, TrustSettings
from oplguard.mail.sa_config import read_sa_trust


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="latin-1")
    return path


LOCAL_CF = """\
# site config
required_score 5.0
trusted_networks 203.0.113.0/24   # an old relay, cleared below
clear_trusted_networks
trusted-networks !192.0.2.66 192.0.2.
Trusted_Networks [2001:db8::]/32
internal_networks 192.0.2.0/25
msa_networks 192.0.2.30
clear_msa_networks
msa_networks 192.0.2.31
body LOCAL_RULE /\\#trusted_networks 10.0.0.0\\/8/
ifplugin Mail::SpamAssassin::Plugin::Shortcircuit
endif
include extra/more.cf
"""
MORE_CF = """\
originating_ip_headers X-Client-IP x-originating-ip
lang de trusted_networks 198.51.100.0/24
"""


def test_reads_trust_directives_with_clear_include_and_exclusions(tmp_path: Path) -> None:
    local = write(tmp_path / "local.cf", LOCAL_CF)
    write(tmp_path / "extra" / "more.cf", MORE_CF)
    trust = read_sa_trust(local)
    assert trust.trusted is not None and trust.internal is not None and trust.msa is not None
    assert trust.trusted.as_text() == ("!192.0.2.66", "192.0.2.", "[2001:db8::]/32")
    assert not trust.trusted.contains("192.0.2.66")
    assert trust.trusted.contains("192.0.2.67")
    assert not trust.trusted.contains("203.0.113.5")
    assert trust.internal.as_text() == ("192.0.2.0/25",)
    assert trust.msa.as_text() == ("192.0.2.31",)
    assert trust.originating_ip_headers == (*DEFAULT_ORIGINATING_HEADERS, "X-Client-IP")


def test_unset_lists_are_none(tmp_path: Path) -> None:
    trust = read_sa_trust(write(tmp_path / "local.cf", "required_score 5\n"))
    assert trust == TrustSettings(originating_ip_headers=None)


def test_clear_after_set_means_not_configured(tmp_path: Path) -> None:
    text = "internal_networks 10.0.0.0/8\nclear_internal_networks\nclear_originating_ip_headers\n"
    trust = read_sa_trust(write(tmp_path / "local.cf", text))
    assert trust.internal is None
    assert trust.originating_ip_headers == ()


def test_a_directory_reads_every_cf_file_in_order(tmp_path: Path) -> None:
    write(tmp_path / "20_b.cf", "trusted_networks 198.51.100.0/24\n")
    write(tmp_path / "10_a.cf", "trusted_networks 192.0.2.0/24\n")
    write(tmp_path / "init.pre", "trusted_networks 203.0.113.0/24\n")
    trust = read_sa_trust(tmp_path)
    assert trust.trusted is not None
    assert trust.trusted.as_text() == ("192.0.2.0/24", "198.51.100.0/24")


def test_bad_network_names_file_line_and_fix(tmp_path: Path) -> None:
    write(tmp_path / "local.cf", "include inc.cf\n")
    inc = write(tmp_path / "inc.cf", "# comment\n\ntrusted_networks 192.0.2.0/24 10.0.0.300\n")
    with pytest.raises(ConfigError) as raised:
        read_sa_trust(tmp_path / "local.cf")
    error = raised.value
    assert (error.path, error.line) == (str(inc), 3)
    assert f"{inc}:3" in str(error) and "10.0.0.300" in str(error)
    assert "192.0.2.0/24" in error.fix


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trusted_networks\n", "needs at least one network"),
        ("originating_ip_headers\n", "at least one header"),
        ("include missing.cf\n", "cannot read"),
        ("include local.cf\n", "nest deeper"),
    ],
    ids=["empty-networks", "empty-headers", "missing-include", "include-loop"],
)
def test_config_errors(tmp_path: Path, text: str, message: str) -> None:
    local = write(tmp_path / "local.cf", text)
    with pytest.raises(ConfigError, match=message) as raised:
        read_sa_trust(local)
    assert raised.value.path == str(local)
    assert raised.value.line == 1


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_sa_trust(tmp_path / "absent.cf")


def test_merged_with_our_config_adds_the_sa_lines_behind(tmp_path: Path) -> None:
    sa = read_sa_trust(write(tmp_path / "local.cf", "trusted_networks 198.51.100.0/24\n"))
    ours = TrustSettings()
    merged = ours.merged(sa)
    assert merged.trusted is not None
    assert merged.trusted.as_text() == ("198.51.100.0/24",)
    assert merged.originating_headers() == DEFAULT_ORIGINATING_HEADERS
