"""Config loading: defaults, overrides, and errors that name file, line and fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oplguard.config import loader as config_loader
from oplguard.config.model import ServerConfig
from oplguard.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_default_loads_with_sample_lists() -> None:
    cfg = config_loader.load(config_loader.default_config_path())
    assert [item.name for item in cfg.lists] == ["opl", "zombies", "spam-sources"]
    assert all(item.path.exists() for item in cfg.lists)
    assert cfg.server.listen[0].port == 783
    assert {g.name: g.action for g in cfg.groups}["open_proxy_list"] == "delete"


def test_empty_file_gives_dataclass_defaults(tmp_path: Path) -> None:
    cfg = config_loader.load(write(tmp_path, ""))
    assert cfg.server == ServerConfig()
    assert cfg.scoring.required_score == 5.0
    assert cfg.trust.trusted_networks is None


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ('[server]\nlisten = ["127.0.0.1:783"]\nbogus = 1\n', 3, "unknown key 'bogus'"),
        ('[server]\nallowed_ips = ["10.0.0.300"]\n', 2, "bad IP, CIDR or range"),
        ('[server]\nlisten = ["localhost"]\n', 2, "bad listen address"),
        ('[[lists]]\nname = "x"\npath = "x.txt"\nformat = "csv"\n', 4, "unknown list format"),
        ('[groups.g]\nlists = ["nope"]\n', 2, "unknown list 'nope'"),
        ('[groups.g]\naction = "drop"\n', 2, "unknown action 'drop'"),
        ('[[allowed_senders]]\nip = "192.0.2.1"\nscope = "world"\n', 3, "unknown scope"),
        ('[[allowed_senders]]\nip = "192.0.2.1/24"\n', 2, "host bits set"),
        ('[[allowed_senders]]\nip = "192.0.2.1"\nexpires = "soon"\n', 3, "bad expires"),
        ('[scoring]\nrequired_score = "five"\n', 2, "must be a number"),
        ("[server\n", 1, "not valid TOML"),
        ('log_level = "LOUD"\n', 1, "unknown log level"),
    ],
    ids=[
        "unknown-key",
        "bad-ip",
        "bad-listen",
        "bad-format",
        "unknown-list",
        "bad-action",
        "bad-scope",
        "host-bits",
        "bad-expiry",
        "bad-number",
        "bad-toml",
        "bad-level",
    ],
)
def test_bad_config_names_file_line_and_fix(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        config_loader.load(path)
    err = caught.value
    assert err.path == str(path)
    assert err.line == line
    assert needle in str(err)
    assert "(fix: " in str(err)


def test_second_array_entry_error_points_at_its_own_line(tmp_path: Path) -> None:
    text = (
        '[[allowed_senders]]\nip = "192.0.2.1"\n\n'
        '[[allowed_senders]]\nip = "192.0.2.2"\nscope = "nowhere"\n'
    )
    with pytest.raises(ConfigError) as caught:
        config_loader.load(write(tmp_path, text))
    assert caught.value.line == 6


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        config_loader.load(tmp_path / "absent.toml")


def test_list_paths_resolve_relative_to_the_config(tmp_path: Path) -> None:
    cfg = config_loader.load(write(tmp_path, '[[lists]]\nname = "a"\npath = "l/a.txt"\n'))
    assert cfg.lists[0].path == tmp_path / "l" / "a.txt"


def test_senders_file_adds_entries_and_switches_groups(tmp_path: Path) -> None:
    write(
        tmp_path,
        '[[allowed_senders]]\nip = "203.0.113.7"\nexpires = 2030-01-01\n'
        '[groups.g]\nenabled = false\naction = "tag"\n',
        "senders.toml",
    )
    main = (
        'senders_file = "senders.toml"\n[[lists]]\nname = "a"\npath = "a.txt"\n'
        '[groups.g]\nlists = ["a"]\naction = "delete"\n'
    )
    cfg = config_loader.load(write(tmp_path, main))
    assert cfg.allowed_senders[0].network == "203.0.113.7"
    assert cfg.allowed_senders[0].expires is not None
    assert (cfg.groups[0].enabled, cfg.groups[0].action) == (False, "tag")


def test_senders_file_unknown_group_names_the_senders_file(tmp_path: Path) -> None:
    senders = write(tmp_path, "[groups.nope]\nenabled = false\n", "senders.toml")
    with pytest.raises(ConfigError) as caught:
        config_loader.load(write(tmp_path, 'senders_file = "senders.toml"\n'))
    assert caught.value.path == str(senders)
    assert caught.value.line == 2


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            '[metrics]\nlisten = "tls:127.0.0.1:9783"\n',
            "bad metrics address 'tls:127.0.0.1:9783': use a plain HOST:PORT",
        ),
        (
            '[web]\nlisten = "unix:/run/w.sock"\n',
            "bad listen address 'unix:/run/w.sock': the web service listens on one HOST:PORT",
        ),
    ],
)
def test_tcp_only_listen_addresses_say_why(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)) as caught:
        config_loader.load(write(tmp_path, text))
    assert caught.value.line == 2
