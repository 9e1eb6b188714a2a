"""The README's ``explain --json`` schema names exactly the keys the program prints."""

from __future__ import annotations

import re
from pathlib import Path

from tests.samples import message

from oplguard.commands.loading import build_scanner
from oplguard.config import loader as config_loader

README = Path(__file__).resolve().parents[3] / "README.md"


def schema_rows() -> dict[str, str]:
    """key -> meaning, from the table under ``## `explain --json` schema``."""
    section = README.read_text().split("## `explain --json` schema", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for key in re.findall(r"`([a-z_]+)`", cells[0]):
                rows[key] = cells[2]
    return rows


def named_in(text: str) -> set[str]:
    """The keys listed after ``each`` in a schema cell."""
    listed = text.split("each", 1)[1].split("(")[0]
    return {word.strip(" `") for word in listed.split(",")}


def test_readme_schema_names_every_key_and_no_other() -> None:
    cfg = config_loader.load(config_loader.default_config_path())
    scan = build_scanner(cfg).scan(message("listed-deep.eml"))
    document = scan.as_dict()
    rows = schema_rows()
    assert set(rows) == set(document)
    hit_keys = set(document["hits"][0])
    assert named_in(rows["hits"]) == hit_keys
    assert {"counted", "because", "monitor_only"} <= hit_keys
