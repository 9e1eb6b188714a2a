"""The sample config (plugin/oplguard/defaults/oplguard.toml) documents every key the
loader accepts, no key it refuses, and each key's real default."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from oplguard.config import loader as config_loader
from oplguard.errors import ConfigError

SAMPLE = config_loader.default_config_path()
# Tables and a minimal body that lets the loader reach their unknown-key check.
TABLES: dict[str, str] = {
    "": "",
    "server": "[server]\n",
    "server.tls": "[server.tls]\n",
    "tracking": "[tracking]\n",
    "metrics": "[metrics]\n",
    "trust": "[trust]\n",
    "scoring": "[scoring]\n",
    "policyd": "[policyd]\n",
    "upstream": "[upstream]\n",
    "web": "[web]\n",
    "web.notify": "[web.notify]\n",
    "lists": '[[lists]]\nname = "a"\npath = "a.txt"\n',
    "dnsbls": '[[dnsbls]]\nname = "a"\nzone = "a.test"\n',
    "groups": "[groups.g]\nlists = []\n",
    "allowed_senders": '[[allowed_senders]]\nip = "192.0.2.1"\n',
    "blocked_senders": '[[blocked_senders]]\nip = "192.0.2.1"\n',
}
# Plain tables whose documented values are compared with the loader's defaults.
PLAIN = ("", "server", "server.tls", "tracking", "metrics", "trust", "scoring", "policyd")
PLAIN += ("upstream", "web", "web.notify")
# Tables of which a config holds several (or one per group): the sample's set lines are
# examples of real entries, its commented-out lines document the keys.
ARRAYS = ("lists", "dnsbls", "groups", "allowed_senders", "blocked_senders")
_HEADER = re.compile(r"^#?\s*\[\[?([a-z_.]+)\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^(#\s*)?([a-z_][a-z_0-9]*)\s*=\s*(.*)$")


def accepted(table: str, tmp_path: Path) -> set[str]:
    """The keys the loader accepts in ``table``, from its own unknown-key message."""
    path = tmp_path / "probe.toml"
    path.write_text(TABLES[table] + "zz_not_a_key = 1\n")
    with pytest.raises(ConfigError) as refused:
        config_loader.load(path)
    listed = re.search(r"use one of: ([^)]*)\)", str(refused.value))
    assert listed is not None, str(refused.value)
    return {key.strip() for key in listed.group(1).split(",")}


def documented() -> dict[str, list[tuple[str, Any, str, bool]]]:
    """table -> (key, value, comment, is_commented_out) for every key line of the sample."""
    out: dict[str, list[tuple[str, Any, str, bool]]] = {"": []}
    table = ""
    for line in SAMPLE.read_text().splitlines():
        if header := _HEADER.match(line):
            table = header.group(1)
            parent, _, child = table.rpartition(".")
            if parent == "groups":  # [groups.NAME]: one group
                table = parent
            elif parent:  # [server.tls], [dnsbls.returncodes]: a key of the parent too
                out.setdefault(parent, []).append((child, {}, "a table", True))
                table = table if table in TABLES else f"{parent}.{child}"
            out.setdefault(table, [])
            continue
        if (found := _KEY.match(line)) is None:
            continue
        rest = found.group(3)
        for cut in [*(i for i, c in enumerate(rest) if c == "#"), len(rest)]:
            try:
                value = tomllib.loads(f"v = {rest[:cut]}")["v"]
            except tomllib.TOMLDecodeError:
                continue
            out[table].append((found.group(2), value, rest[cut:], bool(found.group(1))))
            break
    return out


@pytest.mark.parametrize("table", sorted(TABLES), ids=lambda t: t or "top")
def test_sample_documents_every_accepted_key_and_no_other(table: str, tmp_path: Path) -> None:
    keys = {key for key, *_ in documented().get(table, [])}
    if table == "":
        keys |= {name for name in documented() if name and "." not in name}
    assert keys == accepted(table, tmp_path)


@pytest.mark.parametrize("table", ARRAYS)
def test_sample_shows_each_entry_key_with_its_real_default(table: str, tmp_path: Path) -> None:
    """Every commented-out line shows the default or says what it is instead; a key that
    only has set lines (examples) shows its default on one of them, or says it."""
    minimal = TABLES[table]
    path = tmp_path / "entry.toml"
    path.write_text(minimal)
    default = config_loader.load(path)
    lines: dict[str, list[tuple[bool, bool]]] = {}
    for key, value, comment, is_commented in documented().get(table, []):
        if comment == "a table" or re.search(rf"^{key}\s*=", minimal, re.MULTILINE):
            continue  # a sub-table, or a key every entry must set (no default)
        path.write_text(f"{minimal}{key} = {_toml(value)}\n")
        try:
            shows = config_loader.load(path) == default or "default" in comment
        except ConfigError:
            shows = "default" in comment
        lines.setdefault(key, []).append((is_commented, shows))
    wrong = [
        f"[{table}] {key}"
        for key, found in lines.items()
        if not all(shows for is_commented, shows in found if is_commented)
        or not any(shows for _, shows in found)
    ]
    assert lines, f"the sample documents no key of [{table}]"
    assert wrong == [], "not the default, and not marked so"


def _loaded(table: str, body: str, tmp_path: Path) -> Any:
    path = tmp_path / "one.toml"
    path.write_text((f"[{table}]\n" if table else "") + body)
    return config_loader.load(path)


@pytest.mark.parametrize("table", PLAIN, ids=lambda t: t or "top")
def test_sample_shows_each_key_with_its_real_default(table: str, tmp_path: Path) -> None:
    default = _loaded(table, "", tmp_path)
    wrong = []
    for key, value, comment, _ in documented().get(table, []):
        if comment == "a table":
            continue
        body = f"{key} = {_toml(value)}\n"
        try:
            same = _loaded(table, body, tmp_path) == default
        except ConfigError as err:
            same = False
            comment += f" ({err})"
        if not same and "default" not in comment:
            wrong.append(f"[{table}] {key} = {value!r}: not the default, and not marked so")
    assert wrong == []


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return repr(value)
