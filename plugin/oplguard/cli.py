"""oplguard checks every relay IP of a message against Open Proxy Lists, explains
its verdicts and keeps track of them.

This module assembles the ``oplguard`` command; only it imports the server.
Exit codes follow one table (``exits.py``, README "Exit codes").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from oplguard import cliargs
from oplguard import config as config_mod
from oplguard.config import Config, Listener
from oplguard.errors import ConfigError, InputError, OplguardError, OutputError, Status, UsageError
from oplguard.exits import exit_status, output_closed
from oplguard.levelnames import LIFECYCLE_LOGGER
from oplguard.lists import ListStore
from oplguard.netparse import parse_listen
from oplguard.policy.checks import config_warnings
from oplguard.policy.explain import explain_text, lookup_text
from oplguard.policy.lookup import lookup_ip
from oplguard.policy.scanner import Scan, Scanner, trust_settings
from oplguard.progress import Progress, counted
from oplguard.removals import command as removals_command
from oplguard.removals.model import parse_public_ip
from oplguard.storage import StoreError
from oplguard.textsafe import printable_lines

SYSTEM_CONFIG = Path("/etc/oplguard/oplguard.toml")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def config_path(given: str | None) -> Path:
    """--config, else /etc/oplguard/oplguard.toml if present, else the embedded default."""
    if given:
        return Path(given)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else config_mod.default_config_path()


def load_config(args: argparse.Namespace) -> Config:
    cfg = config_mod.load(config_path(args.config))
    sa_config = getattr(args, "sa_config", None)
    if sa_config:
        cfg = replace(cfg, trust=replace(cfg.trust, sa_config=Path(sa_config)))
    return cfg


def build_scanner(cfg: Config) -> Scanner:
    lists = ListStore(cfg.lists)
    lists.load(Progress.for_terminal())  # progress on a terminal's stderr, else quiet
    return Scanner(cfg, lists, trust_settings(cfg))


def cmd_serve(args: argparse.Namespace) -> int:
    from oplguard.observability import logsetup
    from oplguard.server.workers import serve

    cfg = load_config(args)
    listeners = tuple(_listener(text) for text in args.listen) if args.listen else None
    logging.getLogger("oplguard").setLevel(args.log_level or cfg.log_level)
    logging.getLogger(LIFECYCLE_LOGGER).setLevel(logging.INFO)
    logsetup.install(cfg.log_format)
    return serve(cfg, listeners)  # one process, or [server] workers pre-forked ones


def cmd_log_level(args: argparse.Namespace) -> int:
    from oplguard.control.commands import cmd_log_level as run

    return run(args, config_path(args.config))


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


def cmd_trace(args: argparse.Namespace) -> int:
    from oplguard.control.commands import cmd_trace as run

    if args.ip:
        args.ip = typed_ip(args.ip)
    return run(args, config_path(args.config))


def cmd_lists_status(args: argparse.Namespace) -> int:
    from oplguard.control.commands import cmd_lists_status as run

    return run(args, config_path(args.config))


def cmd_status(args: argparse.Namespace) -> int:
    from oplguard.control.commands import cmd_status as run

    return run(args, config_path(args.config))


def cmd_track(args: argparse.Namespace) -> int:
    from oplguard.tracking.report import cmd_track as run

    if args.ip:
        args.ip = typed_ip(args.ip)
    return run(args, config_path(args.config))


def cmd_policyd(args: argparse.Namespace) -> int:
    from oplguard.policyd.server import PolicyServer

    cfg = load_config(args)
    listeners = tuple(_listener(text) for text in args.listen) if args.listen else None
    if listeners and any(item.kind == "tls" for item in listeners):
        raise ConfigError("policyd has no TLS listener", fix="use HOST:PORT or unix:/PATH")
    logging.getLogger("oplguard").setLevel(args.log_level or cfg.log_level)
    logging.getLogger(LIFECYCLE_LOGGER).setLevel(logging.INFO)

    async def run() -> None:
        server = PolicyServer(cfg, listeners)
        server.install_signals()
        await server.serve()

    asyncio.run(run())
    return 0


def _listener(text: str) -> Listener:
    try:
        kind, host, port, path = parse_listen(text)
    except ValueError as err:
        raise ConfigError(
            f"bad --listen {text!r}: {err}",
            fix="use HOST:PORT, [V6]:PORT, tls:HOST:PORT or unix:/PATH",
        ) from err
    return Listener(kind, host, port, path)


def read_message(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {name}: {err.strerror}") from err


def cmd_explain(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    scan: Scan = build_scanner(cfg).scan(read_message(args.file))
    if args.json:
        print(json.dumps(scan.as_dict(), indent=2))
    else:
        print(printable_lines(explain_text(scan)))  # header text from the message
    return 0


def cmd_lookup(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    scanner = build_scanner(cfg)
    result = lookup_ip(scanner, typed_ip(args.ip), datetime.now(UTC))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(lookup_text(result))
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from oplguard.web.serve import run_web

    cfg = load_config(args)
    logging.getLogger(LIFECYCLE_LOGGER).setLevel(logging.INFO)
    return run_web(cfg, _web_listener(args.listen) if args.listen else None)


def _web_listener(text: str) -> Listener:
    listener = _listener(text)
    if listener.kind != "tcp":
        raise ConfigError(f"bad --listen {text!r}", fix="the web service listens on HOST:PORT")
    return listener


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = config_mod.load(Path(args.file))
    scanner = build_scanner(cfg)
    for warning in config_warnings(cfg, datetime.now(UTC)):
        print(f"warning: {warning}", file=sys.stderr)
    total = sum(len(item.entries) for item in scanner.lists.snapshot.lists)
    print(
        f"{args.file}: OK ({len(cfg.lists)} lists, {total} entries, "
        f"{len(cfg.groups)} groups, {len(cfg.allowed_senders)} allowed senders, "
        f"{len(cfg.blocked_senders)} blocked senders)"
    )
    return 0


def cmd_lists_export(args: argparse.Namespace) -> int:
    from oplguard.lists import export

    cfg = load_config(args)
    scanner = build_scanner(cfg)
    chosen = [
        b for b in scanner.lists.snapshot.lists if not args.list or b.config.name in args.list
    ]
    listed = ((block, item) for block in chosen for item in block.entries)
    total = sum(len(block.entries) for block in chosen)
    entries = (
        export.ExportEntry(net, item.reason, block.config.category, block.config.name)
        for block, item in counted(listed, Progress.for_terminal(), "exporting", total, "entries")
        for net in export.networks_of(item.network)
    )
    now = datetime.now(UTC)
    allowed = [e.network for e in cfg.allowed_senders if e.is_active(now)]
    kept = export.effective_iter(entries, allowed)
    if args.format == "rbldnsd":
        names = export.RBLDNSD_HEADERS
        targets = {name: Path(f"{args.output}.{name}") for name in names} if args.output else {}
        with _streams(targets) as streams:
            later: list[str] = []  # standard output: the ip4set lines, then the ip6trie ones
            for name, text in export.rbldnsd_lines(kept):
                if name in streams:
                    streams[name].write(text + "\n")
                elif name == "ip4set":
                    sys.stdout.write(text + "\n")
                else:
                    later.append(text + "\n")
            sys.stdout.writelines(later)
        return 0
    line = export.LINE_FORMATS[args.format]
    targets = {"out": Path(args.output)} if args.output else {}
    with _streams(targets) as streams:
        stream = streams.get("out", sys.stdout)
        for entry in kept:
            stream.write(line(entry) + "\n")
    return 0


@contextlib.contextmanager
def _streams(targets: dict[str, Path]) -> Iterator[dict[str, TextIO]]:
    """Files written atomically: each goes to a temporary name and replaces the target only
    when everything was written, so a reader (rbldnsd, postmap) never sees half a file.

    Raises:
        OutputError: a target cannot be written (the message names it and why).
    """
    temps = {key: path.with_name(f".{path.name}.tmp") for key, path in targets.items()}
    try:
        with contextlib.ExitStack() as stack:
            streams: dict[str, TextIO] = {
                key: stack.enter_context(tmp.open("w", encoding="utf-8", buffering=1 << 20))
                for key, tmp in temps.items()
            }
            yield streams
        for key, path in targets.items():
            temps[key].replace(path)
            print(f"wrote {path}", file=sys.stderr)
    except BrokenPipeError:
        raise  # the reader of standard output went away: main() ends quietly
    except OSError as err:
        where = next((str(targets[k]) for k, t in temps.items() if str(t) == err.filename), None)
        raise OutputError(f"cannot write {where or err.filename}: {err.strerror}") from err
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": cmd_serve,
    "policyd": cmd_policyd,
    "web": cmd_web,
    "explain": cmd_explain,
    "lookup": cmd_lookup,
    "check-config": cmd_check_config,
    "lists export": cmd_lists_export,
    "lists status": cmd_lists_status,
    "log-level": cmd_log_level,
    "trace": cmd_trace,
    "status": cmd_status,
    "track": cmd_track,
}


def parser() -> argparse.ArgumentParser:
    """The ``oplguard`` command line (``cliargs``) with its handlers."""
    return cliargs.parser(HANDLERS, lambda sub: removals_command.add_parser(sub, load_config))


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
