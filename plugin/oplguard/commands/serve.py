"""``oplguard serve``: run the spamd-compatible scoring service."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from oplguard.commands.arguments import (
    add_config,
    add_listen,
    add_log_level,
    add_sa_config,
    listener,
)
from oplguard.commands.loading import load_config
from oplguard.levelnames import LIFECYCLE_LOGGER

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers


def register(sub: SubParsers) -> None:
    serve = sub.add_parser("serve", help="run the spamd-compatible scoring service")
    add_config(serve)
    add_listen(
        serve,
        "HOST:PORT, [V6]:PORT, tls:HOST:PORT or unix:/PATH; repeatable; "
        "overrides the config's listen list",
    )
    add_sa_config(serve)
    add_log_level(serve)
    serve.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oplguard.observability import logsetup
    from oplguard.server.workers import serve

    cfg = load_config(args)
    listeners = tuple(listener(text) for text in args.listen) if args.listen else None
    logging.getLogger("oplguard").setLevel(args.log_level or cfg.log_level)
    logging.getLogger(LIFECYCLE_LOGGER).setLevel(logging.INFO)
    logsetup.install(cfg.log_format)
    return serve(cfg, listeners)  # one process, or [server] workers pre-forked ones
