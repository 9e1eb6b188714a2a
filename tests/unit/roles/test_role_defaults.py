"""The role oplguard's defaults are the model's: every role variable its config template writes
as a key (roles/oplguard/templates/etc/oplguard/oplguard.toml.j2) defaults to what oplguard
itself defaults that key to (config/model.py, read through the loader), unless DELIBERATE
names it with the reason; the role's list-entry and group defaults are the sample config's."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from oplguard.config import loader as config_loader
from oplguard.config.model import Config, ListConfig

ROLE = Path(__file__).resolve().parents[3] / "roles" / "oplguard"
TEMPLATE = ROLE / "templates" / "etc" / "oplguard" / "oplguard.toml.j2"
DEFAULTS: dict[str, Any] = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
OPTIONS: dict[str, Any] = SPEC["argument_specs"]["main"]["options"]
# Role variables whose default differs from the model's on purpose, and why.
DELIBERATE = {
    "oplguard_control_socket": "the role's host runs `oplguard log-level` and the log-level "
    "role against the service, which needs the control socket (model: off)",
    "oplguard_senders_file": "the role oplguard_sender_groups switches groups in this file "
    "(model: no senders file)",
    "oplguard_web_trusted_proxies": "the role puts oplguard web behind the host's nginx, which "
    "connects from loopback and sets X-Forwarded-For (model: no proxy trusted)",
}
_HEADER = re.compile(r"^\[\[?([a-z_]+)")
_LINE = re.compile(r"^([a-z_]+) = \{\{ (oplguard_[a-z_]+)( \| upper)?")
_GUARD = re.compile(r"^\{% if (oplguard_[a-z_]+) %\}")


def mapped() -> list[tuple[str, str, str, bool, bool]]:
    """(table, key, variable, upper-cased, left out when empty) for each templated key."""
    table, guard, out = "", "", []
    for line in TEMPLATE.read_text().splitlines():
        if header := _HEADER.match(line):
            table = header.group(1)
        if found := _GUARD.match(line):
            guard = found.group(1)
        elif line.startswith("{% endif"):
            guard = ""
        if found := _LINE.match(line):
            key, variable = found.group(1), found.group(2)
            out.append((table, key, variable, bool(found.group(3)), variable == guard))
    return out


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # strings, numbers and lists of them: JSON is TOML here


def _value(cfg: Config, table: str, key: str) -> Any:
    return getattr(getattr(cfg, table) if table else cfg, key)


@pytest.fixture
def model(tmp_path: Path) -> Config:
    """The model's defaults: a config file that sets nothing."""
    path = tmp_path / "empty.toml"
    path.write_text("")
    return config_loader.load(path)


def test_the_template_maps_the_role_variables_of_the_main_tables() -> None:
    tables = {table for table, *_ in mapped()}
    assert {"", "server", "policyd", "scoring"} <= tables
    assert len(mapped()) >= 15


@pytest.mark.parametrize(
    ("table", "key", "variable", "upper", "optional"),
    mapped(),
    ids=[variable for _, _, variable, *_ in mapped()],
)
def test_role_default_is_the_model_default(
    table: str,
    key: str,
    variable: str,
    upper: bool,
    optional: bool,
    model: Config,
    tmp_path: Path,
) -> None:
    value = DEFAULTS[variable]
    assert OPTIONS[variable].get("default") == value, "argument_specs.yml says another default"
    if variable in DELIBERATE:
        assert value != _value(model, table, key), f"{variable} is the default now: drop it"
        return
    value = value.upper() if upper else value
    body = "" if optional and not value else f"{key} = {_toml(value)}\n"
    path = tmp_path / "role.toml"
    path.write_text((f"[{table}]\n" if table else "") + body)
    assert _value(config_loader.load(path), table, key) == _value(model, table, key)


def test_role_trust_lists_left_empty_are_the_model_default(model: Config) -> None:
    """The template writes trusted/internal/msa_networks only when not empty: SpamAssassin's
    inference, the model's None."""
    for key in ("trusted_networks", "internal_networks", "msa_networks"):
        assert DEFAULTS[f"oplguard_{key}"] == []
        assert getattr(model.trust, key) is None


def test_role_list_entry_defaults_are_the_model_defaults() -> None:
    model = {f.name: f.default for f in fields(ListConfig)}
    entry = OPTIONS["oplguard_lists"]["options"]
    vars_text = (ROLE / "vars" / "main.yml").read_text()
    filled = re.search(r"__oplguard_lists_all: >-\s*\{\{ \[(\{.*?\})\]", vars_text, re.S)
    assert filled is not None, "vars/main.yml: __oplguard_lists_all changed shape"
    base = ast.literal_eval(filled.group(1))
    for key in ("category", "format", "description"):
        assert entry[key]["default"] == base[key] == model[key], key


def test_role_lists_and_groups_are_the_sample_configs() -> None:
    sample = config_loader.load(config_loader.default_config_path())
    role_lists = [
        (item["name"], item["category"], item["description"]) for item in DEFAULTS["oplguard_lists"]
    ]
    assert role_lists == [(item.name, item.category, item.description) for item in sample.lists]
    role_groups = {
        name: (tuple(body["lists"]), body["action"], body["symbol"], body["reason"])
        for name, body in DEFAULTS["oplguard_groups"].items()
    }
    assert role_groups == {
        group.name: (group.lists, group.action, group.symbol, group.reason)
        for group in sample.groups
    }
