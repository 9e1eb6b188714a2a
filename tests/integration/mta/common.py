"""Shared pieces of the MTA harnesses: ports, bounded waits, process stops, swaks.

Every wait polls with a deadline; nothing sleeps to guess readiness.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jinja2
import pytest

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.05
SWAKS_TIMEOUT_S = 60.0
# Debian packages the MTA tests need (scripts/bootstrap.sh --test installs them).
PACKAGES = {
    "postfix": "postfix",
    "swaks": "swaks",
    "spamd": "spamassassin",
    "spamc": "spamc",
    "exim4": "exim4-daemon-heavy",
}


def need_program(name: str, *candidates: str) -> str:
    """The path of ``name`` (or one of ``candidates``), or skip naming the package."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if found:
            return found
    package = PACKAGES.get(name, name)
    pytest.skip(
        f"{name} is not installed: Debian package {package} "
        "(scripts/bootstrap.sh --test installs it as root)"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll ``check`` until it is true.

    Raises:
        TimeoutError: ``what`` did not happen within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(POLL_INTERVAL_S)
    raise TimeoutError(f"{what}: not within {timeout_s:g} s")


def smtp_greets(port: int) -> bool:
    """True once something on ``port`` sends an SMTP 220 greeting."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            return sock.recv(512).startswith(b"220")
    except OSError:
        return False


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def stop(proc: subprocess.Popen[bytes], pid: int | None = None) -> None:
    """TERM ``pid`` (default: the process), then wait; KILL its group as a last resort.

    The process was started with ``start_new_session=True``, so its group is ours.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid or proc.pid, signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(STOP_TIMEOUT_S)


def end_group(pgid: int) -> None:
    """KILL what is left of a process group, and wait (bounded) until it is gone.

    For daemons that fork helpers which outlive them (Exim's queue runners
    and SMTP children): they would otherwise write into a folder the test
    is about to remove.  A zombie nobody reaps still counts as a member, so
    the wait gives up quietly at its deadline.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not _group_alive(pgid), f"process group {pgid} gone", STOP_TIMEOUT_S)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def swaks(port: int, message: bytes, *args: str) -> subprocess.CompletedProcess[str]:
    """Send ``message`` (headers and body) with the real swaks; its transcript in stdout."""
    return subprocess.run(
        [
            need_program("swaks"),
            "--server",
            f"127.0.0.1:{port}",
            "--from",
            "sender@example.org",
            "--to",
            "user@test.example",
            "--helo",
            "client.example.org",
            "--timeout",
            "30",
            "--data",
            "-",
            *args,
        ],
        input=message.decode("utf-8"),
        capture_output=True,
        text=True,
        timeout=SWAKS_TIMEOUT_S,
        check=False,
    )


def maildir_messages(folder: Path) -> list[bytes]:
    """Messages delivered to the maildir ``folder`` (new/ and cur/), oldest first."""
    files = [p for sub in ("new", "cur") for p in (folder / sub).glob("*") if p.is_file()]
    return [p.read_bytes() for p in sorted(files, key=lambda p: p.stat().st_mtime_ns)]


def private_folder(prefix: str) -> Path:
    """A fresh folder the MTAs' unprivileged users can traverse (pytest's are 0700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


ROLE_TEMPLATES = Path(__file__).resolve().parents[3] / "roles" / "oplguard_mta" / "templates"


def role_template(name: str, **variables: object) -> str:
    """Render a template of the Ansible role oplguard_mta, so that what these tests run against
    the real MTA is exactly what the role installs (one source of truth).

    Ansible's ``ansible_managed`` header and its ``comment`` filter only make the leading comment;
    they are given plain stand-ins here.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROLE_TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,  # Ansible's template module default
    )
    env.filters["comment"] = lambda text: "#\n# " + str(text) + "\n#"
    return env.get_template(name).render(ansible_managed="Ansible managed", **variables)
