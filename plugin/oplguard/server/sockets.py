"""Small socket helpers shared by the spamd service and the policy service."""

from __future__ import annotations

import asyncio

from oplguard.config.model import Listener


def peer_of(
    transport: asyncio.BaseTransport | asyncio.StreamWriter, listener: Listener
) -> tuple[str, str]:
    """(peer host, peer text for logs)."""
    if listener.kind == "unix":
        return ("", "unix")
    name = transport.get_extra_info("peername")
    if not isinstance(name, tuple):
        return ("", "unknown")
    return (str(name[0]), sockname(name))


def sockname(name: object) -> str:
    """``host:port``, ``[v6]:port`` or the path of a socket address."""
    if isinstance(name, tuple):
        host, port = str(name[0]), name[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(name)
