"""The ``oplguard`` command: serve, explain, lookup, check-config.

Only this module imports the server.  Bad config exits 78 (EX_CONFIG) with
the file, the line and the fix.
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
from typing import NoReturn, TextIO

from oplguard import __version__
from oplguard import config as config_mod
from oplguard.config import Config, Listener
from oplguard.errors import ConfigError, InputError, ListError, OplguardError, Status
from oplguard.lists import ListStore
from oplguard.netparse import parse_listen
from oplguard.policy.explain import explain_text, lookup_text
from oplguard.policy.lookup import lookup_ip
from oplguard.policy.scanner import Scan, Scanner, trust_settings
from oplguard.progress import Progress, counted
from oplguard.removals import command as removals_command

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
    logsetup.install(cfg.log_format)
    return serve(cfg, listeners)  # one process, or [server] workers pre-forked ones


def cmd_log_level(args: argparse.Namespace) -> int:
    from oplguard.control.commands import cmd_log_level as run

    return run(args, config_path(args.config))


def cmd_trace(args: argparse.Namespace) -> int:
    from oplguard.control.commands import cmd_trace as run

    return run(args, config_path(args.config))


def cmd_lists_status(args: argparse.Namespace) -> int:
    from oplguard.control.commands import cmd_lists_status as run

    return run(args, config_path(args.config))


def cmd_status(args: argparse.Namespace) -> int:
    from oplguard.control.commands import cmd_status as run

    return run(args, config_path(args.config))


def cmd_track(args: argparse.Namespace) -> int:
    from oplguard.tracking.report import cmd_track as run

    return run(args, config_path(args.config))


def cmd_policyd(args: argparse.Namespace) -> int:
    from oplguard.policyd.server import PolicyServer

    cfg = load_config(args)
    listeners = tuple(_listener(text) for text in args.listen) if args.listen else None
    if listeners and any(item.kind == "tls" for item in listeners):
        raise ConfigError("policyd has no TLS listener", fix="use HOST:PORT or unix:/PATH")
    logging.getLogger("oplguard").setLevel(args.log_level or cfg.log_level)

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
        print(explain_text(scan))
    return 0


def cmd_lookup(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    scanner = build_scanner(cfg)
    result = lookup_ip(scanner, args.ip, datetime.now(UTC))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(lookup_text(result))
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from oplguard.web.serve import run_web

    cfg = load_config(args)
    return run_web(cfg, _web_listener(args.listen) if args.listen else None)


def _web_listener(text: str) -> Listener:
    listener = _listener(text)
    if listener.kind != "tcp":
        raise ConfigError(f"bad --listen {text!r}", fix="the web service listens on HOST:PORT")
    return listener


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = config_mod.load(Path(args.file))
    scanner = build_scanner(cfg)
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
        InputError: a target cannot be written (the message names it and why).
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
    except OSError as err:
        where = next((str(targets[k]) for k, t in temps.items() if str(t) == err.filename), None)
        raise InputError(f"cannot write {where or err.filename}: {err.strerror}") from err
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="oplguard", description=__doc__)
    top.add_argument("--version", action="version", version=f"oplguard {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the spamd-compatible scoring service")
    serve.add_argument(
        "--config",
        help="config file (default: /etc/oplguard/oplguard.toml or the embedded sample config)",
    )
    serve.add_argument(
        "--listen",
        action="append",
        metavar="ADDR",
        help="HOST:PORT, [V6]:PORT, tls:HOST:PORT or unix:PATH; repeatable; "
        "overrides the config's listen list",
    )
    serve.add_argument("--sa-config", help="read trust settings from a SpamAssassin config too")
    serve.add_argument("--log-level", type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(func=cmd_serve)

    policyd = sub.add_parser(
        "policyd", help="run the Postfix policy service: refuse listed clients before DATA"
    )
    policyd.add_argument("--config", help="config file (as for serve)")
    policyd.add_argument(
        "--listen",
        action="append",
        metavar="ADDR",
        help="HOST:PORT, [V6]:PORT or unix:PATH; repeatable; overrides [policyd] listen",
    )
    policyd.add_argument(
        "--log-level", type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    policyd.set_defaults(func=cmd_policyd)

    explain = sub.add_parser("explain", help="show the relay chain and verdict of a saved message")
    explain.add_argument("file", help="message file, or - for standard input")
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.add_argument("--config")
    explain.add_argument("--sa-config", help="read trust settings from a SpamAssassin config too")
    explain.set_defaults(func=cmd_explain)

    lookup = sub.add_parser("lookup", help="show which lists an IP is on, and its allow state")
    lookup.add_argument("ip")
    lookup.add_argument("--json", action="store_true")
    lookup.add_argument("--config")
    lookup.set_defaults(func=cmd_lookup)

    lists = sub.add_parser("lists", help="work with the configured lists")
    lists_sub = lists.add_subparsers(dest="lists_command", required=True)
    export = lists_sub.add_parser(
        "export", help="write local lists (allow-list entries carved out) for other software"
    )
    export.add_argument(
        "--format", required=True, choices=["rbldnsd", "postfix-cidr", "rspamd", "plain"]
    )
    export.add_argument("--list", action="append", help="only this list (repeatable)")
    export.add_argument(
        "--output", help="file (rbldnsd: prefix for .ip4set/.ip6trie); default standard output"
    )
    export.add_argument("--config")
    export.set_defaults(func=cmd_lists_export)
    lists_status = lists_sub.add_parser(
        "status", help="each list of the running service: entries, reload errors, DNS health"
    )
    lists_status.add_argument("--json", action="store_true")
    lists_status.add_argument("--config")
    lists_status.set_defaults(func=cmd_lists_status)

    web = sub.add_parser("web", help="run the IP lookup and delisting web service")
    web.add_argument("--config", help="config file (as for serve)")
    web.add_argument("--listen", metavar="HOST:PORT", help="overrides [web] listen")
    web.set_defaults(func=cmd_web)
    removals_command.add_parser(sub, load_config)

    check = sub.add_parser("check-config", help="check a config file and its lists")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)

    level = sub.add_parser(
        "log-level", help="show or set the running service's log levels (control socket)"
    )
    level.add_argument("words", nargs="*", metavar="[COMPONENT] LEVEL")
    level.add_argument("--for", dest="duration", metavar="DURATION", help="revert after: 30m")
    level.add_argument("--json", action="store_true")
    level.add_argument("--config")
    level.error = _usage_error(level)  # type: ignore[method-assign,assignment]
    level.set_defaults(func=cmd_log_level)

    trace = sub.add_parser("trace", help="full debug detail for messages touching an IP/sender")
    trace.add_argument("--ip")
    trace.add_argument("--sender", help="address, or @domain")
    trace.add_argument("--for", dest="duration", default="30m", metavar="DURATION")
    trace.add_argument("--json", action="store_true")
    trace.add_argument("--config")
    trace.error = _usage_error(trace)  # type: ignore[method-assign,assignment]
    trace.set_defaults(func=cmd_trace)

    status = sub.add_parser("status", help="uptime, lists, levels and counters of the service")
    status.add_argument("--json", action="store_true")
    status.add_argument("--config")
    status.set_defaults(func=cmd_status)

    track = sub.add_parser("track", help="search tracked messages: why was it rejected?")
    track.add_argument("--message-id")
    track.add_argument("--ip", help="seen at any hop")
    track.add_argument("--action", choices=["reject", "delete", "tag", "pass"])
    track.add_argument("--since", help="1h, 2d or an ISO time")
    track.add_argument("--host")
    track.add_argument("--limit", type=int, default=100)
    track.add_argument("--json", action="store_true")
    track.add_argument("--config")
    track.set_defaults(func=cmd_track)
    return top


def _usage_error(sub: argparse.ArgumentParser) -> Callable[[str], NoReturn]:
    """argparse exits 2 on bad usage; the control commands promise EX_USAGE (64)."""

    def error(message: str) -> NoReturn:
        sub.print_usage(sys.stderr)
        print(f"{sub.prog}: {message}", file=sys.stderr)
        raise SystemExit(int(Status.EX_USAGE))

    return error


EXIT_CODES: dict[type[OplguardError], int] = {
    ConfigError: Status.EX_CONFIG,
    ListError: Status.EX_CONFIG,
    InputError: Status.EX_NOINPUT,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; errors are one clear line on stderr and an EX_* exit code."""
    args = parser().parse_args(argv)
    logging.basicConfig(format=LOG_FORMAT, stream=sys.stderr, level=logging.WARNING)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except OplguardError as err:
        print(f"oplguard {args.command}: {err}", file=sys.stderr)
        return int(EXIT_CODES.get(type(err), Status.EX_SOFTWARE))
    except KeyboardInterrupt:
        return 130
