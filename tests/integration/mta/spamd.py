"""A real SpamAssassin spamd (Debian package spamassassin) on a loopback port.

Its rules are a small fixed set in a temp folder (``--configpath``), so scores
are known: no network tests, no Bayes, no user config.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.mta.common import (
    free_port,
    need_program,
    port_open,
    private_folder,
    stop,
    wait_until,
)

# SpamAssassin needs a minute for its full rule set; ours is tiny.
SPAMD_READY_TIMEOUT_S = 60.0
RULES = """\
required_score 5.0
use_bayes 0
report_safe 0
util_rb_tld com net org example
clear_report_template
report Spam detection software, running on the system "_HOSTNAME_",
report has_YESNO(, NOT)_ identified this incoming email as_YESNO( possible,)_ spam.
report
report Content analysis details:   (_SCORE_ points, _REQD_ required)
report
report " pts rule name              description"
report  ---- ---------------------- --------------------------------------------------
report _SUMMARY_
header   OPLTEST_PROXY_SUBJECT  Subject =~ /open proxy/i
describe OPLTEST_PROXY_SUBJECT  Subject talks about an open proxy
score    OPLTEST_PROXY_SUBJECT  2.5
body     OPLTEST_HOPS_BODY      /hops deep/
describe OPLTEST_HOPS_BODY      Body talks about hops
score    OPLTEST_HOPS_BODY      1.0
"""
# v320.pre's Check plugin is what runs rules at all; the TLDs keep
# RegistryBoundaries from asking for sa-update.
PLUGINS = "loadplugin Mail::SpamAssassin::Plugin::Check\n"
# OPLTEST_PROXY_SUBJECT + OPLTEST_HOPS_BODY, both hit by listed-deep.eml.
DEEP_SCORE = 3.5


@dataclass
class Spamd:
    """A running spamd: its port and log."""

    folder: Path
    port: int

    @property
    def log(self) -> str:
        path = self.folder / "spamd.log"
        return path.read_text(errors="replace") if path.exists() else ""


def pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.sendall(b"PING SPAMC/1.5\r\n\r\n")
            return sock.recv(64).startswith(b"SPAMD/1.5 0 PONG")
    except OSError:
        return False


@contextmanager
def running_spamd(rules: str = RULES) -> Iterator[Spamd]:
    """Start spamd with ``rules`` on a free loopback port; stop it after."""
    program = need_program("spamd", "/usr/sbin/spamd")
    folder = private_folder("oplguard-spamd-")
    for sub in ("rules", "site"):
        (folder / sub).mkdir(mode=0o755)
    (folder / "rules" / "local.cf").write_text(rules)
    (folder / "site" / "init.pre").write_text(PLUGINS)
    port = free_port()
    proc = subprocess.Popen(
        _command(program, folder, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    instance = Spamd(folder, port)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"spamd exited:\n{instance.log}")
        return pong(port)

    try:
        wait_until(ready, "spamd PONG", SPAMD_READY_TIMEOUT_S)
        yield instance
    finally:
        stop(proc)
        wait_until(lambda: not port_open(port), "spamd port closed")
        shutil.rmtree(folder, ignore_errors=True)


def _command(program: str, folder: Path, port: int) -> list[str]:
    """spamd on loopback with our rules only: no network tests, no user prefs."""
    user = ["--username", "nobody"] if os.geteuid() == 0 else []
    return [
        program,
        "--listen",
        f"127.0.0.1:{port}",
        "--allowed-ips",
        "127.0.0.1",
        "--local",
        "--nouser-config",
        "--max-children",
        "1",
        "--configpath",
        str(folder / "rules"),
        "--siteconfigpath",
        str(folder / "site"),
        "--syslog",
        str(folder / "spamd.log"),
        "--pidfile",
        str(folder / "spamd.pid"),
        *user,
    ]
