"""Listening sockets of a service: one function opens them all (TCP, TLS, Unix).

A taken port or a Unix socket a live process still answers on is a
``ConfigError`` (one line naming the address and the fix, exit 78), never a
traceback, and never a silent take-over of the other process's socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

from oplguard.config.model import Listener
from oplguard.control.server import answers
from oplguard.errors import ConfigError

# What a listener serves with: an asyncio protocol per accepted connection (a plain
# ``asyncio.Protocol`` or the streams' ``StreamReaderProtocol``, see server/shell.py).
ProtocolFactory = Callable[[], asyncio.BaseProtocol]


def in_use_error(listener: Listener, err: OSError | str) -> ConfigError:
    """The one-line error for an address that cannot be taken."""
    reason = err if isinstance(err, str) else (err.strerror or str(err))
    return ConfigError(
        f"cannot listen on {listener}: {reason}",
        fix="stop the other process on it, or choose another address with "
        "listen in the config or --listen",
    )


def claim_unix_path(listener: Listener) -> None:
    """Make ``listener.path`` free: remove a stale socket, refuse a live one or a non-socket.

    Raises:
        ConfigError: a process answers on it, or the path is not a socket.
    """
    path = Path(listener.path)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise in_use_error(listener, "the path exists and is not a socket")
    if answers(path):
        raise in_use_error(listener, "another process is serving on this socket")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def open_listener(
    listener: Listener,
    factory: ProtocolFactory,
    unix_mode: int,
    inherited: socket.socket | None = None,
) -> asyncio.Server:
    """Start serving ``listener`` (or a socket bound by a parent process) with ``factory``.

    Raises:
        ConfigError: the address is taken (see the module doc).
    """
    loop = asyncio.get_running_loop()
    if inherited is not None:
        if listener.kind == "unix":
            return await loop.create_unix_server(factory, sock=inherited)
        return await loop.create_server(factory, sock=inherited)
    try:
        if listener.kind == "unix":
            await asyncio.to_thread(claim_unix_path, listener)
            server = await loop.create_unix_server(factory, path=listener.path)
            os.chmod(listener.path, unix_mode)
            return server
        host = None if listener.host in ("*", "") else listener.host
        return await loop.create_server(factory, host, listener.port)
    except OSError as err:
        raise in_use_error(listener, err) from err


def unix_inode(listener: Listener) -> int:
    """The inode of the socket file we just bound (0 for other listeners)."""
    if listener.kind != "unix":
        return 0
    try:
        return os.stat(listener.path).st_ino
    except OSError:
        return 0


def release_listener(listener: Listener, inode: int) -> None:
    """Remove our Unix socket file, unless another process has replaced it since."""
    if listener.kind != "unix" or not inode:
        return
    path = Path(listener.path)
    with contextlib.suppress(OSError):
        if path.lstat().st_ino == inode:
            path.unlink()
