"""Asking the running service over its control socket, for ``log-level``, ``trace``,
``status`` and ``lists status``.

Exit codes (the Ansible role relies on them): 0 done, 64 usage (bad level,
component or duration), 69 the service cannot be reached (no socket,
refused, foreign-owned socket), 65 the service rejected the request.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oplguard.commands.loading import config_path
from oplguard.config import loader as config_loader
from oplguard.control.client import ControlError
from oplguard.errors import Status


class UsageError(ControlError):
    def __init__(self, message: str) -> None:
        super().__init__(message, Status.EX_USAGE)


def socket_path(args: argparse.Namespace) -> Path:
    """The control socket named by the config.

    Raises:
        ControlError: the config names none (EX_UNAVAILABLE).
    """
    path = config_path(args.config)
    cfg = config_loader.load(path)
    if not cfg.control_socket:
        raise ControlError(f"{path}: control_socket is not set, so there is nothing to ask")
    return Path(cfg.control_socket)


def answered(name: str, call: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one command; a ControlError is one line on stderr and its exit code."""
    try:
        return int(call(args))
    except ControlError as err:
        print(f"oplguard {name}: {err}", file=sys.stderr)
        return int(err.status)


def worker_lines(reply: dict[str, Any], key: str) -> list[str]:
    """With pre-forked workers: one that did not answer, or whose ``key`` differs, is shown."""
    rows = reply.get("workers") or []
    out = []
    for row in rows:
        if "error" in row:
            out.append(f"worker {row['slot']} (pid {row['pid']}) did not answer: {row['error']}")
        elif key in row and row[key] != reply.get(key):
            out.append(f"worker {row['slot']} (pid {row['pid']}) differs: {row[key]}")
    return out
