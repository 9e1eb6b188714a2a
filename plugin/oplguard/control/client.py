"""The control socket client: finds the socket, checks who owns it, asks one question.

A socket owned by another user could be anyone's: it is refused unless the
owner is the caller, root, or (for root) the owner of a directory only that
owner can write, as systemd's RuntimeDirectory makes it.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

from oplguard.control.protocol import IO_TIMEOUT_S, MAX_REPLY_BYTES, decode, encode
from oplguard.errors import OplguardError, Status


class ControlError(OplguardError):
    """The service could not be asked, or refused; ``status`` is the exit code."""

    def __init__(self, message: str, status: Status = Status.EX_UNAVAILABLE) -> None:
        super().__init__(message)
        self.status = status


def check_owner(path: Path) -> None:
    """Raise unless the socket at ``path`` is one the caller may trust.

    Raises:
        ControlError: missing, not a socket, or owned by someone else.
    """
    try:
        info = path.lstat()
    except FileNotFoundError as err:
        raise ControlError(
            f"no control socket at {path}: is `oplguard serve` running with this config?"
        ) from err
    except OSError as err:
        raise ControlError(f"cannot reach control socket {path}: {err.strerror}") from err
    if not stat.S_ISSOCK(info.st_mode):
        raise ControlError(f"{path} is not a socket")
    me = os.geteuid()
    if info.st_uid in (me, 0):
        return
    if me == 0:
        parent = path.parent.lstat()
        private = not parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if parent.st_uid == info.st_uid and private:
            return
    raise ControlError(
        f"control socket {path} is owned by uid {info.st_uid}, not by you (uid {me}) or root: "
        "refusing to talk to it"
    )


def ask(path: Path, request: dict[str, Any], timeout_s: float = IO_TIMEOUT_S) -> dict[str, Any]:
    """Send one request and return the reply's fields (without ``ok``).

    Raises:
        ControlError: unreachable (EX_UNAVAILABLE) or refused by the service (EX_DATAERR).
    """
    check_owner(path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            sock.sendall(encode(request))
            reply = _read_line(sock)
    except (OSError, TimeoutError) as err:
        reason = "timed out" if isinstance(err, TimeoutError) else err.strerror or str(err)
        raise ControlError(f"cannot reach the service at {path}: {reason}") from err
    try:
        answer = decode(reply)
    except ValueError as err:
        raise ControlError(f"the service at {path} sent a bad reply: {err}") from err
    if not answer.pop("ok", False):
        raise ControlError(str(answer.get("error", "refused")), Status.EX_DATAERR)
    return answer


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REPLY_BYTES:
            raise OSError("reply too long")
    if not data:
        raise ConnectionError("the service closed the connection without an answer")
    return data
