#!/usr/bin/env python3
"""Keep the variable tables of docs/ansible.md in sync with each role's meta/argument_specs.yml.

The tables sit between `<!-- argspec:ROLE -->` and `<!-- /argspec:ROLE -->` markers.
  argspec-doc.py          rewrite the tables
  argspec-doc.py --check  exit 1 (and name the roles) when a table is out of date (lint.sh)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ansible.md"


def cell(value: object) -> str:
    text = " ".join(value) if isinstance(value, list) else str(value)
    return text.replace("|", "\\|").replace("\n", " ").strip()


def table(role: str) -> str:
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    rows = ["| Variable | Type | Default | Choices | Description |", "|---|---|---|---|---|"]
    for name, option in options.items():
        kind = option.get("type", "str")
        if kind == "list" and "elements" in option:
            kind = f"list of {option['elements']}"
        default = option.get("default", "(required)" if option.get("required") else "")
        default_text = f"`{yaml.safe_dump(default, default_flow_style=True).strip().removesuffix('...').strip()}`"
        choices = ", ".join(f"`{c}`" for c in option.get("choices", []))
        description = cell(option.get("description", ""))
        if "options" in option:
            keys = ", ".join(
                f"`{key}`" + (f" ({'/'.join(map(str, sub['choices']))})" if "choices" in sub else "")
                for key, sub in option["options"].items()
            )
            description += f" Entry keys: {keys}."
        rows.append(f"| `{name}` | {kind} | {default_text} | {choices} | {description} |")
    return "\n".join(rows)


def main() -> int:
    text = DOC.read_text()
    stale = []

    def replace(match: re.Match[str]) -> str:
        role = match.group(1)
        new = f"<!-- argspec:{role} -->\n{table(role)}\n<!-- /argspec:{role} -->"
        if new != match.group(0):
            stale.append(role)
        return new

    updated = re.sub(r"<!-- argspec:(\w+) -->.*?<!-- /argspec:\1 -->", replace, text, flags=re.S)
    if "--check" in sys.argv:
        if stale:
            print(f"docs/ansible.md: variable tables out of date for {', '.join(stale)}: "
                  "run scripts/fleet/argspec-doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
