"""The exit codes of every ``oplguard`` command: one sysexits table by error class.

The README's "Exit codes" table is this table (a test holds them together).
Commands raise; ``cli.main`` turns the error into one line on stderr and the code.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from oplguard.errors import (
    ConfigError,
    InputError,
    ListError,
    OplguardError,
    OutputError,
    Status,
    UsageError,
)

# (code, what it means for the operator); the order of the README table.
EXIT_TABLE: tuple[tuple[Status, str], ...] = (
    (
        Status.EX_OK,
        "done (also when the reader of the output went away: `oplguard track` into `head`)",
    ),
    (
        Status.EX_USAGE,
        "the command line is wrong: unknown option, missing argument, bad value "
        "(an IP, a duration, a level, `--since`)",
    ),
    (
        Status.EX_DATAERR,
        "the request was understood but refused: the service refused it or applied it only "
        "in part, a removal request that cannot be decided; `lists status` while a list is in "
        "error",
    ),
    (Status.EX_NOINPUT, "a file named on the command line cannot be read (`explain FILE`)"),
    (
        Status.EX_UNAVAILABLE,
        "the running service cannot be reached (no control socket, refused, not ours), or "
        "the tracking database is not set or cannot be opened",
    ),
    (Status.EX_SOFTWARE, "a bug in oplguard: please report it with the line printed"),
    (Status.EX_CANTCREAT, "an output file cannot be written (`lists export --output`)"),
    (
        Status.EX_CONFIG,
        "the config or a list file is wrong (`file:line: what (fix: how)`), or a listen "
        "address is taken",
    ),
)

# Error class -> exit code; a subclass takes its nearest listed ancestor's code.
# Errors that carry their own ``status`` (the control client's) use it.
BY_CLASS: dict[type[OplguardError], Status] = {
    UsageError: Status.EX_USAGE,
    InputError: Status.EX_NOINPUT,
    OutputError: Status.EX_CANTCREAT,
    ConfigError: Status.EX_CONFIG,
    ListError: Status.EX_CONFIG,
}


def exit_status(err: OplguardError) -> int:
    """The exit code of an error, from its class (or its own ``status``)."""
    own = getattr(err, "status", None)
    if isinstance(own, Status):
        return int(own)
    for cls in type(err).__mro__:
        if cls in BY_CLASS:
            return int(BY_CLASS[cls])
    return int(Status.EX_SOFTWARE)


class Parser(argparse.ArgumentParser):
    """argparse, but bad usage exits EX_USAGE (64) as the table says, not 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(int(Status.EX_USAGE))


def output_closed() -> int:
    """The reader closed our standard output (``| head``): stop quietly.

    Later writes, and the interpreter's last flush, go to /dev/null so that no
    "Exception ignored ... BrokenPipeError" follows (Python's signal docs).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return int(Status.EX_OK)
