"""Shared fixtures: sample messages and a config writer over copies of the sample lists."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from oplguard.config import loader as config_loader

SAMPLE_LISTS = config_loader.default_config_path().parent / "lists"

ConfigWriter = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """See ``config_writer``."""
    return config_writer(tmp_path)


def config_writer(tmp_path: Path) -> ConfigWriter:
    """Write a config whose lists are copies of the sample lists in tmp_path.

    Keyword arguments: ``action`` of the open-proxy group, ``extra`` TOML text
    appended, ``server`` lines for the [server] table, ``top`` lines before it.
    """
    lists_dir = tmp_path / "lists"
    if not lists_dir.exists():
        shutil.copytree(SAMPLE_LISTS, lists_dir)

    def write(
        action: str = "delete",
        extra: str = "",
        server: str = "",
        top: str = "",
        name: str = "oplguard.toml",
    ) -> Path:
        listen = "" if "listen" in server else 'listen = ["127.0.0.1:0"]'
        text = f"""{top}
[server]
{listen}
{server}

[scoring]
required_score = 5.0

[[lists]]
name = "opl"
path = "{lists_dir / "opl.txt"}"
category = "open-proxy"

[[lists]]
name = "zombies"
path = "{lists_dir / "zombies.txt"}"
category = "zombie"

[groups.open_proxy_list]
lists = ["opl"]
action = "{action}"
symbol = "OPL"

[groups.zombies]
lists = ["zombies"]
action = "delete"
symbol = "ZOMBIE"
reason = "Zombie sender violation"
{extra}
"""
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
