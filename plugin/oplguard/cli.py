"""oplguard checks every relay IP of a message against Open Proxy Lists, explains
its verdicts and keeps track of them.

This module only assembles the ``oplguard`` command from ``commands/`` (one module a
subcommand, each with ``register`` and ``run``) and turns errors into one line and an
exit code (``exits.py``, README "Exit codes").  The README command table is held to
this parser by a test (tests/unit/test_cliargs.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from oplguard import __version__
from oplguard.commands import (
    check_config,
    explain,
    lists,
    log_level,
    lookup,
    policyd,
    removals,
    serve,
    status,
    trace,
    track,
    web,
)
from oplguard.errors import OplguardError, Status
from oplguard.exits import EXIT_TABLE, Parser, exit_status, output_closed
from oplguard.storage.db import StoreError

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DESCRIPTION = (
    "oplguard checks every relay IP of a mail message (the connecting IP and each "
    "Received hop) against Open Proxy Lists and other block lists, and answers your MTA "
    "over the spamd protocol (spamc, Postfix, Exim) or Postfix policy delegation. It "
    "explains each verdict in plain words, tracks every scored message, and serves an IP "
    "lookup and delisting web page."
)
EPILOG = (
    "Run 'oplguard COMMAND --help' for the options of one command. Without --config, "
    "commands read /etc/oplguard/oplguard.toml if it exists, else the embedded sample config. "
    "Exit codes: " + ", ".join(f"{int(code)} {code.name}" for code, _ in EXIT_TABLE) + "."
)
# In the order ``--help`` lists them.
COMMANDS = (
    serve,
    policyd,
    web,
    explain,
    lookup,
    check_config,
    lists,
    log_level,
    trace,
    status,
    track,
    removals,
)


def parser() -> argparse.ArgumentParser:
    """The whole ``oplguard`` command line, every subcommand registered."""
    top = Parser(prog="oplguard", description=DESCRIPTION, epilog=EPILOG)
    top.add_argument(
        "--version", action="version", version=f"oplguard {__version__}", help="print the version"
    )
    # Sub-parsers are Parser too (bad usage exits 64); typed as argparse's for the helpers.
    sub = cast("SubParsers", top.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for command in COMMANDS:
        command.register(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; errors are one clear line on stderr and an EX_* exit code.

    A reader that closes our output (``oplguard track | head``) ends the command
    quietly, for every command and for ``--help`` too.
    """
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except BrokenPipeError:
        return output_closed()


def _run(argv: Sequence[str] | None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(format=LOG_FORMAT, stream=sys.stderr, level=logging.WARNING)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except StoreError as err:
        print(f"oplguard {args.command}: {err}", file=sys.stderr)
        return int(Status.EX_UNAVAILABLE)
    except OplguardError as err:
        print(f"oplguard {args.command}: {err}", file=sys.stderr)
        return exit_status(err)
    except KeyboardInterrupt:
        return 130
