"""``oplguard lists export|status``: write local lists for other software; each list's state."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from oplguard.commands.arguments import add_config, add_json
from oplguard.commands.asking import answered, socket_path
from oplguard.commands.loading import build_scanner, load_config
from oplguard.control.client import ask
from oplguard.errors import OutputError, Status
from oplguard.lists.status import FileState
from oplguard.progress import Progress, counted

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers

EXPORT_FORMATS = ("rbldnsd", "postfix-cidr", "rspamd", "plain")
# A list in one of these states makes ``lists status`` exit EX_DATAERR (65): a file
# whose last reload failed (the service serves the last good version) or never loaded.
LIST_ERROR_STATES = frozenset({FileState.ERROR, FileState.MISSING})


def register(sub: SubParsers) -> None:
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
    add_config(export)
    export.set_defaults(func=run)
    status = lists_sub.add_parser(
        "status", help="each list of the running service: entries, reload errors, DNS health"
    )
    add_json(status)
    add_config(status)
    status.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.lists_command == "export":
        return export_lists(args)
    return answered("lists status", _status, args)


def _status(args: argparse.Namespace) -> int:
    from oplguard.lists.status import status_text as lists_text

    reply = ask(socket_path(args), {"cmd": "lists"})
    print(json.dumps(reply["lists"], indent=2) if args.json else lists_text(reply["lists"]))
    broken = [row["name"] for row in reply["lists"] if row.get("state") in LIST_ERROR_STATES]
    if broken:
        print(f"oplguard lists status: in error: {', '.join(broken)}", file=sys.stderr)
        return int(Status.EX_DATAERR)
    return 0


def export_lists(args: argparse.Namespace) -> int:
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
