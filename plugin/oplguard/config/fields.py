"""Typed reading of TOML values; every error names the file, line and fix."""

from __future__ import annotations

import re
import tomllib
from dataclasses import MISSING, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from oplguard.config.locate import locate
from oplguard.config.model import SenderEntry
from oplguard.config.vocabulary import Word, member
from oplguard.errors import ConfigError
from oplguard.netparse import parse_network


def defaults_of(cls: type[Any]) -> dict[str, Any]:
    """The defaults a config dataclass states, by field name (fields without one left out):
    the loader reads every default from here, never states one of its own."""
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}


def toml_error_line(err: tomllib.TOMLDecodeError) -> int:
    """The line tomllib reports ("... (at line 3, column 1)"), or 0."""
    match = re.search(r"at line (\d+)", str(err))
    return int(match.group(1)) if match else 0


def read_toml(path: Path, what: str) -> tuple[str, dict[str, Any]]:
    """The text and parsed TOML of ``path``.

    Raises:
        ConfigError: unreadable, not UTF-8, or not TOML (with the line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {what}: {err}", path=str(path)) from err
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"not valid TOML: {err}",
            path=str(path),
            line=toml_error_line(err),
            fix="check quoting and brackets",
        ) from err
    except RecursionError:  # arrays or tables nested thousands deep
        raise ConfigError(
            "not valid TOML: nested too deeply", path=str(path), fix="remove the nesting"
        ) from None
    except ValueError as err:  # an integer of thousands of digits
        raise ConfigError(
            f"not valid TOML: {err}".split(";")[0], path=str(path), fix="use a number that fits"
        ) from None


# Every number of the config counts bytes, seconds or connections: beyond this it is a typo.
MAX_NUMBER = 1e12


class Fields:
    """Reads values out of parsed TOML, locating each error's line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.base = path.parent

    def fail(self, table: str, key: str, message: str, fix: str, index: int = 0) -> ConfigError:
        line = locate(self.text, table, key, index)
        return ConfigError(message, path=str(self.path), line=line, fix=fix)

    def table(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise self.fail("", name, f"[{name}] must be a table", f"write it as [{name}]")
        return value

    def array(self, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail("", name, f"{name} must be an array of tables", f"write [[{name}]]")
        return value

    def check_keys(self, table: str, data: dict[str, Any], known: set[str], index: int = 0) -> None:
        for key in data:
            if key not in known:
                where = f"[{table}]" if table else "the top level"
                raise self.fail(
                    table,
                    key,
                    f"unknown key {key!r} in {where}",
                    f"use one of: {', '.join(sorted(known))}",
                    index,
                )

    def string(
        self, data: dict[str, Any], table: str, key: str, default: str, index: int = 0
    ) -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise self.fail(table, key, f"{key} must be a string", f'write {key} = "..."', index)
        return value

    def choice(
        self,
        data: dict[str, Any],
        table: str,
        key: str,
        default: Word,
        fix: str,
        index: int = 0,
        noun: str = "",
    ) -> Word:
        """One word of ``default``'s vocabulary (a StrEnum), as that enum's member."""
        text = self.string(data, table, key, default, index)
        found = member(type(default), text)
        if found is None:
            raise self.fail(table, key, f"unknown {noun or key} {text!r}", fix, index)
        return found

    def number(self, data: dict[str, Any], table: str, key: str, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(table, key, f"{key} must be a number", f"write {key} = {default}")
        if value < 0:
            raise self.fail(table, key, f"{key} must not be negative", f"write {key} = {default}")
        if not value <= MAX_NUMBER:  # also nan and inf
            raise self.fail(
                table, key, f"{key} = {value} is not a finite number up to {MAX_NUMBER:g}",
                f"write {key} = {default}",
            )  # fmt: skip
        return float(value)

    def field_number(self, data: dict[str, Any], table: str, key: str, defaults: object) -> float:
        """``key`` as a number, by default the same field of ``defaults`` (a config dataclass)."""
        default: float = getattr(defaults, key)
        return self.number(data, table, key, default)

    def boolean(self, data: dict[str, Any], table: str, key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(table, key, f"{key} must be true or false", f"write {key} = false")
        return value

    def strings(self, data: dict[str, Any], table: str, key: str) -> tuple[str, ...] | None:
        if key not in data:
            return None
        value = data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(
                table, key, f"{key} must be a list of strings", f'write {key} = ["..."]'
            )
        return tuple(value)

    def path_of(self, value: str) -> Path:
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else self.base / candidate

    def local_path(self, value: str) -> str:
        """A file path as text: ``~`` expanded, relative to the config's folder; "" stays off."""
        return str(self.path_of(value)) if value else ""

    def database(self, value: str) -> str:
        """``tracking_db``: a URL (``sqlite:///...``, ``postgresql://...``) is kept as
        written; a bare SQLite path is resolved like any other path."""
        if not value or "://" in value or value == ":memory:":
            return value
        return self.local_path(value)

    def network(self, table: str, key: str, text: str, index: int = 0) -> str:
        try:
            return parse_network(text)
        except ValueError as err:
            raise self.fail(
                table,
                key,
                f"bad IP, CIDR or range {text!r}: {err}",
                'write "192.0.2.7", "192.0.2.0/24" or "192.0.2.7-192.0.2.9"',
                index,
            ) from err

    def senders(self, data: dict[str, Any], name: str) -> tuple[SenderEntry, ...]:
        built = []
        default = defaults_of(SenderEntry)
        for index, body in enumerate(self.array(data, name)):
            self.check_keys(name, body, {"ip", "scope", "expires", "comment"}, index)
            raw = self.string(body, name, "ip", "", index)
            if not raw:
                raise self.fail(
                    name,
                    "ip",
                    f"{name} entry #{index + 1} has no ip",
                    'write ip = "203.0.113.7"',
                    index,
                )
            scope = self.choice(
                body,
                name,
                "scope",
                default["scope"],
                "use connection (the connecting IP skips all checks) or hop "
                "(that IP is exempt wherever it appears)",
                index,
            )
            built.append(
                SenderEntry(
                    network=self.network(name, "ip", raw, index),
                    scope=scope,
                    expires=self.expiry(body.get("expires"), name, index),
                    comment=self.string(body, name, "comment", default["comment"], index),
                    line=locate(self.text, name, "ip", index),
                )
            )
        return tuple(built)

    def expiry(self, value: Any, table: str, index: int) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            try:
                return self.expiry(datetime.fromisoformat(value), table, index)
            except ValueError:
                pass
        raise self.fail(
            table,
            "expires",
            f"bad expires value {value!r}",
            "write expires = 2027-01-31 (a TOML date) or 2027-01-31T12:00:00Z",
            index,
        )
