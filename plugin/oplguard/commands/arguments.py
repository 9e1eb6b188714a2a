"""What several subcommands share: their common options and the values typed on the line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from oplguard.config.model import Listener
from oplguard.errors import ConfigError, InputError, UsageError
from oplguard.levelnames import LEVEL_NAMES, level_name
from oplguard.netparse import parse_listen
from oplguard.removals.model import parse_public_ip

Handler = Callable[[argparse.Namespace], int]
if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def log_level_arg(text: str) -> str:
    """``--log-level``: any case, plural or a prefix (``warn``, ``Warnings``).

    Raises:
        argparse.ArgumentTypeError: not a level (argparse exits 64 with it).
    """
    try:
        return level_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: /etc/oplguard/oplguard.toml, else the embedded sample)",
    )


def add_json(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def add_log_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        type=log_level_arg,
        metavar="LEVEL",
        help=f"log level ({', '.join(n.lower() for n in LEVEL_NAMES)}; any case); "
        "overrides the config's log_level",
    )


def add_listen(parser: argparse.ArgumentParser, forms: str) -> None:
    """``--listen ADDR``, repeatable; ``forms`` is its help text."""
    parser.add_argument("--listen", action="append", metavar="ADDR", help=forms)


def add_sa_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sa-config", metavar="FILE", help="read trust settings from a SpamAssassin config too"
    )


def typed_ip(text: str) -> str:
    """An IP typed on the command line, read as the web API reads it (no zone id,
    no network, no leading zeros).

    Raises:
        UsageError: not one IPv4 or IPv6 address (exit 64, as every bad value).
    """
    try:
        return parse_public_ip(text)
    except InputError as err:
        raise UsageError(str(err)) from err


def listener(text: str) -> Listener:
    """A ``--listen`` value.

    Raises:
        ConfigError: not a listen address (exit 78).
    """
    try:
        kind, host, port, path = parse_listen(text)
    except ValueError as err:
        raise ConfigError(
            f"bad --listen {text!r}: {err}",
            fix="use HOST:PORT, [V6]:PORT, tls:HOST:PORT or unix:/PATH",
        ) from err
    return Listener(kind, host, port, path)
