"""A separate file of sender groups (allowed/blocked entries, group switches)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from oplguard.config.fields import Fields, read_toml
from oplguard.config.locate import locate
from oplguard.config.model import (
    GroupConfig,
    SenderEntry,
)
from oplguard.config.vocabulary import Action
from oplguard.errors import ConfigError


@dataclass(frozen=True, slots=True)
class SendersFile:
    """A separate file of sender groups: allowed/blocked entries, group switches."""

    allowed: tuple[SenderEntry, ...]
    blocked: tuple[SenderEntry, ...]
    switches: tuple[tuple[str, int, bool | None, Action | None], ...]  # name, line, enabled, action
    path: Path

    def override_groups(self, groups: tuple[GroupConfig, ...]) -> tuple[GroupConfig, ...]:
        by_name = {group.name: group for group in groups}
        for name, line, enabled, action in self.switches:
            if name not in by_name:
                raise ConfigError(
                    f"unknown sender group {name!r}",
                    path=str(self.path),
                    line=line,
                    fix=f"use one of: {', '.join(sorted(by_name))}",
                )
            group = by_name[name]
            by_name[name] = GroupConfig(
                name=group.name,
                lists=group.lists,
                enabled=group.enabled if enabled is None else enabled,
                action=group.action if action is None else action,
                symbol=group.symbol,
                reason=group.reason,
                description=group.description,
            )
        return tuple(by_name[group.name] for group in groups)


def load_senders(path: Path) -> SendersFile:
    """Read a senders file: [[allowed_senders]], [[blocked_senders]], [groups.NAME]."""
    text, data = read_toml(path, "senders file")
    builder = Fields(path, text)
    builder.check_keys("", data, {"allowed_senders", "blocked_senders", "groups"})
    switches = []
    groups = data.get("groups", {})
    if not isinstance(groups, dict):
        raise builder.fail("", "groups", "groups must be tables", "write [groups.open_proxy_list]")
    for name, body in groups.items():
        table = f"groups.{name}"
        if not isinstance(body, dict):
            raise builder.fail(
                "groups", name, f"group {name!r} must be a table", f"write [{table}]"
            )
        builder.check_keys(table, body, {"enabled", "action"})
        action = None
        if "action" in body:  # set here: no default applies
            action = builder.choice(
                body, table, "action", Action.DELETE, "use reject, delete or tag"
            )
        enabled = builder.boolean(body, table, "enabled", True) if "enabled" in body else None
        switches.append(
            (name, locate(text, table, "enabled") or locate(text, table, "action"), enabled, action)
        )
    return SendersFile(
        allowed=builder.senders(data, "allowed_senders"),
        blocked=builder.senders(data, "blocked_senders"),
        switches=tuple(switches),
        path=path,
    )
