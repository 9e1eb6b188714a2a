"""The [web] config table: defaults, values, and errors naming file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ConfigWriter

from oplguard.config import loader as config_loader
from oplguard.config.model import Config, Listener
from oplguard.errors import ConfigError


def load_web(write_config: ConfigWriter, body: str) -> Config:
    return config_loader.load(write_config(extra=f"\n[web]\n{body}\n"))


def test_defaults(write_config: ConfigWriter) -> None:
    web = config_loader.load(write_config()).web
    assert web.listen == Listener("tcp", "127.0.0.1", 8080)
    assert (web.admin_token, web.dns_servers, web.lookups_per_minute) == ("", (), 30)


def test_values(write_config: ConfigWriter, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("0123456789abcdef0123\n")
    web = load_web(
        write_config,
        'listen = "[::1]:8443"\nadmin_token_file = "token"\n'
        'dns_servers = ["127.0.0.53", "192.0.2.53:5353", "[::1]:53"]\n'
        'trusted_proxies = ["127.0.0.1"]\npublic_url = "https://lookup.example.net/"',
    ).web
    assert web.listen == Listener("tcp", "::1", 8443)
    assert web.admin_token == "0123456789abcdef0123"
    assert web.dns_servers == (("127.0.0.53", 53), ("192.0.2.53", 5353), ("::1", 53))
    assert "0123456789abcdef" not in repr(web)  # the token never shows in logs


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('listen = "unix:/run/x.sock"', "one HOST:PORT"),
        ('dns_servers = ["resolver.example"]', "bad DNS server"),
        ('admin_token = "short"', "at least 16"),
        ('admin_token = "0123456789abcdef0"\nadmin_token_file = "t"', "both set"),
        ('admin_token_file = "missing-token"', "cannot read admin_token_file"),
        ("lookups_per_minute = 0", "whole number >= 1"),
        ("dns_timeout_s = 0", "above 0"),
        ('public_url = "lookup.example.net"', "bad public_url"),
        ("colour = 1", "unknown key 'colour'"),
    ],
    ids=["unix", "dns-name", "short-token", "two-tokens", "no-file", "zero-rate", "no-timeout",
         "url", "unknown"],
)  # fmt: skip
def test_errors_name_file_and_line(write_config: ConfigWriter, body: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        load_web(write_config, body)
    assert caught.value.line > 0 and caught.value.path.endswith("oplguard.toml")
    assert "fix:" in str(caught.value)
