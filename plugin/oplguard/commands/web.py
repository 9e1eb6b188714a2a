"""``oplguard web``: run the IP lookup and delisting web service."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from oplguard.commands.arguments import add_config, listener
from oplguard.commands.loading import load_config
from oplguard.config.model import Listener
from oplguard.errors import ConfigError
from oplguard.levelnames import LIFECYCLE_LOGGER

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers


def register(sub: SubParsers) -> None:
    web = sub.add_parser("web", help="run the IP lookup and delisting web service")
    add_config(web)
    web.add_argument("--listen", metavar="HOST:PORT", help="overrides [web] listen")
    web.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oplguard.web.serve import run_web

    cfg = load_config(args)
    logging.getLogger(LIFECYCLE_LOGGER).setLevel(logging.INFO)
    return run_web(cfg, web_listener(args.listen) if args.listen else None)


def web_listener(text: str) -> Listener:
    """``--listen`` of the web service: HOST:PORT only.

    Raises:
        ConfigError: anything else (exit 78).
    """
    found = listener(text)
    if found.kind != "tcp":
        raise ConfigError(f"bad --listen {text!r}", fix="the web service listens on HOST:PORT")
    return found
