"""Find the line of a key in TOML text, so config errors can name it.

tomllib gives no positions for values; this scans the text once per error.
"""

from __future__ import annotations

import re

_TABLE = re.compile(r"^\s*\[(\[)?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]?\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=")


def locate(text: str, table: str, key: str, index: int = 0) -> int:
    """Return the 1-based line of ``key`` inside ``table`` (its ``index``-th
    occurrence for arrays of tables), the table's own line if the key is
    absent, or 0 when neither is found.  ``table`` "" is the top level.
    """
    current = ""
    seen: dict[str, int] = {}
    table_line = 0
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE.match(line)
        if header:
            current = header.group(2).replace('"', "").replace("'", "").strip()
            seen[current] = seen.get(current, -1) + 1
            if current == table and seen[current] == index:
                table_line = number
            continue
        match = _KEY.match(line)
        if not match or current != table:
            continue
        if table and seen.get(current, 0) != index:
            continue
        if match.group(1).strip('"') == key:
            return number
    if not table:
        for number, line in enumerate(text.splitlines(), start=1):
            header = _TABLE.match(line)
            if header and header.group(2).strip() == key:
                return number
    return table_line
