"""``oplguard policyd``: run the Postfix policy service (refuse listed clients before DATA)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import TYPE_CHECKING

from oplguard.commands.arguments import add_config, add_listen, add_log_level, listener
from oplguard.commands.loading import load_config
from oplguard.errors import ConfigError
from oplguard.levelnames import LIFECYCLE_LOGGER

if TYPE_CHECKING:
    from oplguard.commands.arguments import SubParsers


def register(sub: SubParsers) -> None:
    policyd = sub.add_parser(
        "policyd", help="run the Postfix policy service: refuse listed clients before DATA"
    )
    add_config(policyd)
    add_listen(
        policyd, "HOST:PORT, [V6]:PORT or unix:/PATH; repeatable; overrides [policyd] listen"
    )
    add_log_level(policyd)
    policyd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oplguard.policyd.server import PolicyServer

    cfg = load_config(args)
    listeners = tuple(listener(text) for text in args.listen) if args.listen else None
    if listeners and any(item.kind == "tls" for item in listeners):
        raise ConfigError("policyd has no TLS listener", fix="use HOST:PORT or unix:/PATH")
    logging.getLogger("oplguard").setLevel(args.log_level or cfg.log_level)
    logging.getLogger(LIFECYCLE_LOGGER).setLevel(logging.INFO)

    async def serve() -> None:
        server = PolicyServer(cfg, listeners)
        server.install_signals()
        await server.serve()

    asyncio.run(serve())
    return 0
