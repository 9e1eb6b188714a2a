"""The ``oplguard`` command line: every subcommand, every argument, with help.

Pure argparse; ``cli.py`` passes the handlers.  The README command table is
held to this parser by a test (tests/unit/test_cliargs.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

from oplguard import __version__
from oplguard.exits import EXIT_TABLE, Parser
from oplguard.levelnames import LEVEL_NAMES, level_name

Handler = Callable[[argparse.Namespace], int]
if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

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
ACTIONS = ("reject", "delete", "tag", "pass")
EXPORT_FORMATS = ("rbldnsd", "postfix-cidr", "rspamd", "plain")


def log_level_arg(text: str) -> str:
    """``--log-level``: any case, plural or a prefix (``warn``, ``Warnings``).

    Raises:
        argparse.ArgumentTypeError: not a level (argparse exits 64 with it).
    """
    try:
        return level_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: /etc/oplguard/oplguard.toml, else the embedded sample)",
    )


def _json(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def _log_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        type=log_level_arg,
        metavar="LEVEL",
        help=f"log level ({', '.join(n.lower() for n in LEVEL_NAMES)}; any case); "
        "overrides the config's log_level",
    )


def _services(sub: SubParsers, run: Mapping[str, Handler]) -> None:
    serve = sub.add_parser("serve", help="run the spamd-compatible scoring service")
    _config(serve)
    serve.add_argument(
        "--listen",
        action="append",
        metavar="ADDR",
        help="HOST:PORT, [V6]:PORT, tls:HOST:PORT or unix:/PATH; repeatable; "
        "overrides the config's listen list",
    )
    serve.add_argument(
        "--sa-config", metavar="FILE", help="read trust settings from a SpamAssassin config too"
    )
    _log_level(serve)
    serve.set_defaults(func=run["serve"])

    policyd = sub.add_parser(
        "policyd", help="run the Postfix policy service: refuse listed clients before DATA"
    )
    _config(policyd)
    policyd.add_argument(
        "--listen",
        action="append",
        metavar="ADDR",
        help="HOST:PORT, [V6]:PORT or unix:/PATH; repeatable; overrides [policyd] listen",
    )
    _log_level(policyd)
    policyd.set_defaults(func=run["policyd"])

    web = sub.add_parser("web", help="run the IP lookup and delisting web service")
    _config(web)
    web.add_argument("--listen", metavar="HOST:PORT", help="overrides [web] listen")
    web.set_defaults(func=run["web"])


def _offline(sub: SubParsers, run: Mapping[str, Handler]) -> None:
    explain = sub.add_parser("explain", help="show the relay chain and verdict of a saved message")
    explain.add_argument("file", metavar="FILE", help="message file, or - for standard input")
    _json(explain, "one JSON object (schema in the README)")
    _config(explain)
    explain.add_argument(
        "--sa-config", metavar="FILE", help="read trust settings from a SpamAssassin config too"
    )
    explain.set_defaults(func=run["explain"])

    lookup = sub.add_parser("lookup", help="show which lists an IP is on, and its allow state")
    lookup.add_argument("ip", metavar="IP", help="one IPv4 or IPv6 address")
    _json(lookup)
    _config(lookup)
    lookup.set_defaults(func=run["lookup"])

    check = sub.add_parser("check-config", help="check a config file and its lists")
    check.add_argument("file", metavar="FILE", help="the config file to check")
    check.set_defaults(func=run["check-config"])

    lists = sub.add_parser("lists", help="work with the configured lists (export, status)")
    lists_sub = lists.add_subparsers(dest="lists_command", required=True, metavar="COMMAND")
    export = lists_sub.add_parser(
        "export", help="write local lists (allow-list entries carved out) for other software"
    )
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="the output format")
    export.add_argument(
        "--list", action="append", metavar="NAME", help="only this list (repeatable)"
    )
    export.add_argument(
        "--output",
        metavar="FILE",
        help="file (rbldnsd: prefix for .ip4set/.ip6trie); default standard output",
    )
    _config(export)
    export.set_defaults(func=run["lists export"])
    status = lists_sub.add_parser(
        "status", help="each list of the running service: entries, reload errors, DNS health"
    )
    _json(status)
    _config(status)
    status.set_defaults(func=run["lists status"])


def _control(sub: SubParsers, run: Mapping[str, Handler]) -> None:
    level = sub.add_parser(
        "log-level", help="show or set the running service's log levels (control socket)"
    )
    level.add_argument(
        "words",
        nargs="*",
        metavar="[COMPONENT] LEVEL",
        help="none: show the levels; LEVEL: set all; COMPONENT LEVEL: set one "
        "(protocol relays lists policy tracking web)",
    )
    level.add_argument(
        "--for", dest="duration", metavar="DURATION", help="revert by itself after this: 30m, 2h"
    )
    _json(level)
    _config(level)
    level.set_defaults(func=run["log-level"])

    trace = sub.add_parser("trace", help="full debug detail for messages touching an IP/sender")
    trace.add_argument("--ip", metavar="IP", help="messages with this IP at any hop")
    trace.add_argument("--sender", metavar="ADDR", help="messages from this address, or @domain")
    trace.add_argument(
        "--for",
        dest="duration",
        default="30m",
        metavar="DURATION",
        help="stop by itself after this (default 30m)",
    )
    trace.add_argument(
        "--stop", action="store_true", help="stop the trace of this --ip/--sender now"
    )
    _json(trace)
    _config(trace)
    trace.set_defaults(func=run["trace"])

    status = sub.add_parser("status", help="uptime, lists, levels and counters of the service")
    _json(status)
    _config(status)
    status.set_defaults(func=run["status"])


def _track(sub: SubParsers, run: Mapping[str, Handler]) -> None:
    track = sub.add_parser("track", help="search tracked messages: why was it rejected?")
    track.add_argument(
        "--message-id", metavar="ID", help="this Message-ID, with or without <angle brackets>"
    )
    track.add_argument("--ip", metavar="IP", help="this IP seen at any hop")
    track.add_argument(
        "--sender", metavar="ADDR", help="envelope sender or From address, or @domain"
    )
    track.add_argument(
        "--recipient", metavar="ADDR", help="spamd user or To/Cc address, or @domain"
    )
    track.add_argument("--queue-id", metavar="ID", help="the MTA's queue id of the message")
    track.add_argument("--action", choices=ACTIONS, help="only messages given this action")
    track.add_argument("--since", metavar="WHEN", help="1h, 2d or an ISO time (UTC if no zone)")
    track.add_argument("--host", metavar="HOST", help="only records written by this host")
    track.add_argument(
        "--limit", type=int, default=100, metavar="N", help="at most N records (default 100)"
    )
    _json(track)
    _config(track)
    track.set_defaults(func=run["track"])


def parser(
    run: Mapping[str, Handler], more: Callable[[SubParsers], None]
) -> argparse.ArgumentParser:
    """The whole command line; ``run`` maps each command to its handler, ``more``
    registers the commands that live in their own package (``removals``)."""
    top = Parser(prog="oplguard", description=DESCRIPTION, epilog=EPILOG)
    top.add_argument(
        "--version", action="version", version=f"oplguard {__version__}", help="print the version"
    )
    # Sub-parsers are Parser too (bad usage exits 64); typed as argparse's for the helpers.
    sub = cast("SubParsers", top.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    _services(sub, run)
    _offline(sub, run)
    _control(sub, run)
    _track(sub, run)
    more(sub)
    return top
