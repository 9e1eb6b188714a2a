"""The [policyd] and [upstream] config tables: defaults, parsing, errors with line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from oplguard.config import loader as config_loader
from oplguard.config.model import Config, Listener, PolicydConfig, UpstreamConfig
from oplguard.errors import ConfigError


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "oplguard.toml"
    path.write_text(text, encoding="utf-8")
    return config_loader.load(path)


def test_defaults_when_the_tables_are_absent(tmp_path: Path) -> None:
    cfg = load(tmp_path, "")
    assert cfg.policyd == PolicydConfig()
    assert cfg.policyd.listen == (Listener("tcp", "127.0.0.1", 10048),)
    assert cfg.upstream == UpstreamConfig()
    assert cfg.upstream.address is None


def test_policyd_table(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        '[policyd]\nlisten = ["127.0.0.1:9998", "unix:/run/oplguard/policy.sock", "[::1]:9998"]\n'
        'allowed_ips = ["192.0.2.0/24"]\nmax_connections = 50\n',
    )
    assert cfg.policyd.listen == (
        Listener("tcp", "127.0.0.1", 9998),
        Listener("unix", path="/run/oplguard/policy.sock"),
        Listener("tcp", "::1", 9998),
    )
    assert cfg.policyd.allowed_ips == ("192.0.2.0/24",)
    assert cfg.policyd.max_connections == 50


def test_upstream_table(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        '[upstream]\naddress = "unix:/run/spamd.sock"\ntimeout_s = 5\nthreshold = "oplguard"\n',
    )
    assert cfg.upstream == UpstreamConfig(Listener("unix", path="/run/spamd.sock"), 5.0, "oplguard")
    assert str(cfg.upstream.address) == "unix:/run/spamd.sock"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[policyd]\nlisten = ["tls:127.0.0.1:9998"]\n', 2, "use a plain HOST:PORT"),
        ('[policyd]\nlisten = ["127.0.0.1"]\n', 2, "missing :PORT"),
        ('[policyd]\nlisten = ["*:9998"]\n', 2, "bad address"),
        ('[policyd]\nallowed_ips = ["300.1.2.3"]\n', 2, "bad IP, CIDR or range"),
        ("[policyd]\nmax_connections = -1\n", 2, "must not be negative"),
        ("[policyd]\ndefer = true\n", 2, "unknown key 'defer' in [policyd]"),
        ('[upstream]\naddress = "spamd:783"\n', 2, "bad address"),
        ('[upstream]\nthreshold = "max"\n', 2, "unknown threshold 'max'"),
        ('[upstream]\ntimeout_s = "10"\n', 2, "timeout_s must be a number"),
        ("[upstream]\nmerge = true\n", 2, "unknown key 'merge' in [upstream]"),
        ("upstream = 1\n", 1, "[upstream] must be a table"),
    ],
    ids=[
        "tls-listener",
        "no-port",
        "wildcard",
        "bad-allowed-ip",
        "negative-limit",
        "unknown-policyd-key",
        "hostname-not-ip",
        "bad-threshold",
        "timeout-as-string",
        "unknown-upstream-key",
        "not-a-table",
    ],
)
def test_bad_values_name_file_line_and_fix(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    with pytest.raises(ConfigError, match="fix: ") as caught:
        load(tmp_path, text)
    assert message in str(caught.value)
    assert caught.value.line == line
