"""The command line documents itself: --help describes the tool and lists every
subcommand, every argument has help, and the README command table is the parser's."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from oplguard.cli import parser
from oplguard.exits import EXIT_TABLE

README = Path(__file__).resolve().parents[2] / "README.md"


def commands(top: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every leaf command ("track", "lists export", "removals deny") and its parser."""
    out: dict[str, argparse.ArgumentParser] = {}

    def walk(node: argparse.ArgumentParser, path: str) -> None:
        subs = [a for a in node._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out[path] = node
            return
        for name, child in subs[0].choices.items():
            walk(child, f"{path} {name}".strip())

    walk(top, "")
    return out


def options(node: argparse.ArgumentParser) -> set[str]:
    return {
        action.option_strings[-1]
        for action in node._actions
        if action.option_strings and "--help" not in action.option_strings
    }


def readme_table() -> dict[str, set[str]]:
    """Command -> options, from the first column of the table under ``## Using it``."""
    section = README.read_text().split("## Using it", 1)[1].split("\n## ", 1)[0]
    out: dict[str, set[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `oplguard "):
            continue
        for usage in re.findall(r"`(oplguard [^`]+)`", line.split(" | ")[0]):
            words = usage.replace("\\|", "|").split()[1:]
            path = []
            for word in words:
                if word.startswith(("[", "-")) or word.isupper():
                    break
                path.append(word)
            found = set(re.findall(r"--[a-z][a-z-]*", usage))
            *head, last = path
            for alternative in last.split("|"):
                out[" ".join([*head, alternative])] = found
    return out


def test_help_describes_the_tool_and_lists_every_subcommand() -> None:
    top = parser()
    text = top.format_help()
    flat = " ".join(text.split())
    assert "Open Proxy Lists" in flat and "spamd" in flat
    for name in {path.split()[0] for path in commands(top)}:
        assert re.search(rf"^\s+{re.escape(name)}\s", text, re.MULTILINE), name
    for code, _ in EXIT_TABLE:
        assert f"{int(code)} {code.name}" in flat


def test_every_argument_and_subcommand_has_help() -> None:
    top = parser()
    missing = []
    for path, node in commands(top).items():
        for action in node._actions:
            if not (action.help or "").strip():
                missing.append(f"{path}: {action.option_strings or action.dest}")
    subparser_actions = [
        a
        for node in [top, *(n for n in _inner(top))]
        for a in node._actions
        if isinstance(a, argparse._SubParsersAction)
    ]
    for action in subparser_actions:
        for choice in action._choices_actions:
            if not (choice.help or "").strip():
                missing.append(f"subcommand {choice.dest}")
    assert missing == []


def _inner(top: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return list(subs[0].choices.values())


@pytest.mark.parametrize("path", sorted(commands(parser())), ids=str)
def test_readme_table_names_every_option_of_the_command_and_no_other(path: str) -> None:
    table = readme_table()
    assert path in table, f"README 'Using it' has no row for oplguard {path}"
    assert table[path] == options(commands(parser())[path])


def test_readme_table_has_no_command_the_program_lacks() -> None:
    assert set(readme_table()) == set(commands(parser()))


def test_readme_exit_code_table_is_the_program_table() -> None:
    section = README.read_text().split("### Exit codes", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `(EX_[A-Z]+)` \|", section, re.MULTILINE)
    assert rows == [(str(int(code)), code.name) for code, _ in EXIT_TABLE]
