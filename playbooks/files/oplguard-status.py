"""The state of oplguard on this host, as JSON, for playbooks/status.yml (read-only).

Usage: python3 oplguard-status.py OPLGUARD_BIN CONFIG [UNIT]
Prints {"ok": bool, "lines": [...], "state": {...}}: spamd PING (spamc -K, spamc.conf's
address), the unit's MainPID, log levels with pending reverts, the effective list groups (the
main config's groups with the senders file's switches on top, as the service reads them) and
each list's size and age. "ok" is false when PING fails. Python 3.11 standard library only.
"""

import json
import re
import subprocess
import sys
import time
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

TIMEOUT_S = 30


def run(*argv: str) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return 127, str(err)
    return done.returncode, (
        done.stdout if done.returncode == 0 else done.stderr or done.stdout
    ).strip()


def as_json(rc: int, text: str) -> Any:
    try:
        return json.loads(text) if rc == 0 else None
    except ValueError:
        return None


def groups(config_path: str) -> dict[str, dict[str, Any]]:
    config = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
    senders_file = Path(config.get("senders_file", "") or "/nonexistent")
    switches = (
        tomllib.loads(senders_file.read_text(encoding="utf-8")).get("groups", {})
        if senders_file.is_file()
        else {}
    )
    out = {}
    for name, group in sorted(config.get("groups", {}).items()):
        switch = switches.get(name, {})
        out[name] = {
            "enabled": bool(switch.get("enabled", group.get("enabled", True))),
            "action": str(switch.get("action", group.get("action", "delete"))),
            "switched": bool(switch),
        }
    return out


def age(iso: str | None) -> str:
    if not iso:
        return "?"
    seconds = max(0.0, time.time() - datetime.fromisoformat(iso).timestamp())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def list_line(row: dict[str, Any]) -> str:
    if row.get("kind") == "file":
        text = f"{row['name']} {row['entries']} entries, file {age(row.get('file_mtime'))} old"
        return text + (" (LAST RELOAD FAILED)" if row.get("error") else "")
    return f"{row['name']} (DNS) {row.get('state', '?')}"


def group_text(name: str, group: dict[str, Any]) -> str:
    state = "on" if group["enabled"] else "OFF"
    return f"{name} {state} {group['action']}" + (" (switched)" if group["switched"] else "")


def main(binary: str, config: str, unit: str = "oplguard") -> None:
    ping_rc, ping = run("spamc", "-K")
    # spamc -K prints the status line of spamd's PONG ("SPAMD/1.5 0 ...") and exits 0
    ok = ping_rc == 0 and re.match(r"SPAMD/[0-9.]+ 0\b", ping) is not None
    _, shown = run("systemctl", "show", unit, "--property=MainPID,ActiveState")
    props = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
    levels_rc, levels_text = run(binary, "log-level", "--config", config, "--json")
    levels = as_json(levels_rc, levels_text) or {}
    lists_rc, lists_text = run(binary, "lists", "status", "--config", config, "--json")
    rows = as_json(lists_rc, lists_text) or []
    try:
        effective = groups(config)
    except (OSError, tomllib.TOMLDecodeError) as err:
        effective, groups_error = {}, str(err)
    else:
        groups_error = ""
    reverts = levels.get("reverts") or []
    lines = [
        f"PING {ping if ok else 'FAILED: ' + ping}; MainPID {props.get('MainPID', '?')} "
        f"({props.get('ActiveState', '?')})",
        "levels "
        + (" ".join(f"{k}={v}" for k, v in sorted(levels.get("levels", {}).items())) or levels_text)
        + (
            "; reverts "
            + ", ".join(f"{r['component']}->{r['level']} at {r['at']}" for r in reverts)
            if reverts
            else "; no revert pending"
        ),
        "groups "
        + (", ".join(group_text(name, group) for name, group in effective.items()) or groups_error),
        "lists " + (", ".join(list_line(row) for row in rows) or lists_text),
    ]
    state = {
        "ping": ping,
        "main_pid": props.get("MainPID"),
        "active": props.get("ActiveState"),
        "levels": levels,
        "groups": effective,
        "lists": rows,
    }
    print(json.dumps({"ok": ok, "lines": lines, "state": state}))


if __name__ == "__main__":
    main(*sys.argv[1:])
