"""Small socket helpers shared by the spamd service and the policy service."""

from __future__ import annotations

import asyncio
import contextlib
import stat
from pathlib import Path

from oplguard.config import Listener
from oplguard.errors import ConfigError


def peer_of(writer: asyncio.StreamWriter, listener: Listener) -> tuple[str, str]:
    """(peer host, peer text for logs)."""
    if listener.kind == "unix":
        return ("", "unix")
    name = writer.get_extra_info("peername")
    if not isinstance(name, tuple):
        return ("", "unknown")
    return (str(name[0]), sockname(name))


def sockname(name: object) -> str:
    """``host:port``, ``[v6]:port`` or the path of a socket address."""
    if isinstance(name, tuple):
        host, port = str(name[0]), name[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(name)


def remove_stale(path: Path) -> None:
    """Remove a Unix socket file left by an earlier run (absent is fine).

    Raises:
        ConfigError: something that is not a socket is at ``path``; it is never deleted.
    """
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise ConfigError(
                f"cannot listen on unix:{path}: it exists and is not a socket",
                fix="remove it yourself, or choose another path for the listener",
            )
        path.unlink()
