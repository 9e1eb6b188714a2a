"""The control socket server: owner-only Unix socket, peer credentials checked.

The socket is bound under a temporary name, set to mode 0600 and then
renamed into place, so it is never reachable with looser permissions.  A
path held by another user is never replaced: the service starts without a
control socket and says why (scoring is unaffected).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oplguard.control.protocol import IO_TIMEOUT_S, MAX_REQUEST_BYTES, decode_request, encode
from oplguard.errors import ConfigError, OplguardError
from oplguard.levelnames import LIFECYCLE_LOGGER

log = logging.getLogger("oplguard.server")
# Start, listen, reload, stop: INFO, shown at every log_level (levelnames.py).
lifecycle = logging.getLogger(LIFECYCLE_LOGGER)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
SOCKET_MODE = 0o600
# Control requests are rare and short: a small accept queue is plenty.
LISTEN_BACKLOG = 16
_PEERCRED = struct.Struct("3i")
# A process that still serves a Unix socket accepts a connect at once.
LIVE_PROBE_TIMEOUT_S = 1.0


class ControlSocketError(OplguardError):
    """The control socket cannot be created (the path belongs to someone else, ...)."""


def answers(path: Path) -> bool:
    """True when a live process accepts connections on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(LIVE_PROBE_TIMEOUT_S)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def in_use(path: Path) -> ConfigError:
    return ConfigError(
        f"control socket {path} is in use: another live oplguard answers on it",
        fix="stop that instance, or give this one its own control_socket in its config",
    )


async def claim_control_path(text: str) -> None:
    """Refuse to start when another live process answers on the control socket ``text``.

    Raises:
        ConfigError: it does (a stale socket is left for ``bind_private`` to replace).
    """
    path = Path(text)
    if await asyncio.to_thread(lambda: _is_socket(path) and answers(path)):
        raise in_use(path)


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.lstat().st_mode)
    except OSError:
        return False


def check_path(path: Path) -> None:
    """Remove a stale socket of ours at ``path``; refuse anything else.

    Raises:
        ConfigError: a live process answers on it (a second instance never takes it over).
        ControlSocketError: the path is not a socket, or another user owns it.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ControlSocketError(f"control socket {path} exists and is not a socket")
    if info.st_uid != os.geteuid():
        raise ControlSocketError(
            f"control socket {path} is owned by uid {info.st_uid}, not by this service "
            f"(uid {os.geteuid()}): refusing to replace it; remove it if it is stale"
        )
    if answers(path):
        raise in_use(path)
    path.unlink()


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end (Linux SO_PEERCRED), or None."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    except (OSError, AttributeError):
        return None
    _pid, uid, _gid = _PEERCRED.unpack(raw)
    return int(uid)


def refusal(uid: int | None) -> dict[str, Any] | None:
    """The reply for a peer that is neither this service's user nor root (logged), else None."""
    if uid is not None and uid in (0, os.geteuid()):
        return None
    log.warning("control socket: refused a request from uid %s", uid)
    return {"ok": False, "error": "permission denied: owner or root only"}


def unlink_if_same(path: Path, inode: int) -> None:
    """Remove the socket at ``path`` unless another process has replaced it since."""
    with contextlib.suppress(OSError):
        if path.lstat().st_ino == inode:
            path.unlink()


def bind_private(path: Path) -> socket.socket:
    """A listening Unix socket at ``path``, mode 0600 from the moment it is reachable.

    Bound under a temporary name, chmod-ed, then renamed into place.

    Raises:
        ControlSocketError: the path cannot be used.
    """
    check_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(temporary))
        os.chmod(temporary, SOCKET_MODE)
        sock.listen(LISTEN_BACKLOG)
        os.rename(temporary, path)
    except OSError as err:
        sock.close()
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise ControlSocketError(f"cannot create control socket {path}: {err}") from err
    return sock


class ControlServer:
    """Serves control requests with a dict of command -> handler."""

    def __init__(
        self, path: Path, handlers: dict[str, Handler], on_refused: Callable[[], None]
    ) -> None:
        self.path = path
        self.handlers = handlers
        self.on_refused = on_refused
        self.server: asyncio.Server | None = None
        self.inode = 0

    async def start(self) -> None:
        """Bind the socket (0600) at ``path``.

        Raises:
            ControlSocketError: the path cannot be used.
        """
        sock = await asyncio.to_thread(bind_private, self.path)
        try:
            self.server = await asyncio.start_unix_server(
                self._serve, sock=sock, limit=MAX_REQUEST_BYTES
            )
        except OSError as err:
            sock.close()
            raise ControlSocketError(f"cannot serve control socket {self.path}: {err}") from err
        self.inode = self.path.lstat().st_ino
        lifecycle.info("control socket on %s (mode 0600)", self.path)

    async def close(self) -> None:
        if self.server is None:
            return
        self.server.close()
        unlink_if_same(self.path, self.inode)
        self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request, read and answered within IO_TIMEOUT_S from accept (not per read)."""
        try:
            async with asyncio.timeout(IO_TIMEOUT_S):
                sock = writer.get_extra_info("socket")
                refused = refusal(peer_uid(sock) if sock is not None else None)
                if refused is not None:
                    self.on_refused()
                    writer.write(encode(refused))
                    return
                reply = await self._answer(reader)
                writer.write(encode(reply))
                await writer.drain()
        except TimeoutError:
            log.warning("control socket: request not complete within %gs; closed", IO_TIMEOUT_S)
        except ConnectionError as err:
            log.warning("control socket: client went away: %s", err)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> dict[str, Any]:
        try:
            request = decode_request(await reader.readline())
        except (ValueError, asyncio.LimitOverrunError) as err:
            self.on_refused()
            return {"ok": False, "error": f"bad request: {err}"}
        command = str(request.get("cmd", ""))
        handler = self.handlers.get(command)
        if handler is None:
            self.on_refused()
            known = ", ".join(sorted(self.handlers))
            return {"ok": False, "error": f"unknown command {command!r} (known: {known})"}
        try:
            return {"ok": True, **handler(request)}
        except (ValueError, OplguardError) as err:
            self.on_refused()
            return {"ok": False, "error": str(err)}
