"""A real Exim (Debian package exim4-daemon-heavy) on a loopback port, from a temp folder.

``exim -C <config> -bdf -oX <port>``: a foreground daemon with its own
spool, log and maildir (``<folder>/mail/user/``); nothing of /etc/exim4 is
read.  exim4-daemon-heavy conflicts with postfix as a Debian package (both
provide mail-transport-agent), so its binary may also come unpacked from the
.deb: ``$OPLGUARD_EXIM`` or /opt/oplguard-test/exim4-daemon-heavy/usr/sbin/exim4.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.mta.common import (
    end_group,
    free_port,
    maildir_messages,
    need_program,
    port_open,
    private_folder,
    smtp_greets,
    stop,
    wait_until,
)

UNPACKED_EXIM = "/opt/oplguard-test/exim4-daemon-heavy/usr/sbin/exim4"
# Compiled into Debian's exim4 binaries.  With -C, Exim keeps no root privilege
# (exim_user only), so it also delivers as this user.
EXIM_USER = "Debian-exim"
DELIVERY_TIMEOUT_S = 30.0

CONFIG = """\
exim_path = {binary}
primary_hostname = mx.test.example
qualify_domain = test.example
domainlist local_domains = test.example
spool_directory = {folder}/spool
log_file_path = {folder}/log/%slog
pid_file_path = {folder}/exim.pid
local_interfaces = 127.0.0.1
host_lookup =
rfc1413_hosts =
keep_environment =
tls_advertise_hosts =
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data
{main}

begin acl

acl_check_rcpt:
  accept  domains = +local_domains
  deny    message = relay not permitted

{acls}

begin routers

to_maildir:
  driver = accept
  domains = +local_domains
  transport = maildir

begin transports

maildir:
  driver = appendfile
  directory = {folder}/mail/user
  maildir_format
  create_directory
  user = {user}
  return_path_add
  envelope_to_add

begin retry

*  *  F,10m,1m
"""


@dataclass
class Exim:
    """A running Exim daemon: its folder, SMTP port, logs and mailbox."""

    folder: Path
    port: int

    def log(self, name: str = "main") -> str:
        path = self.folder / "log" / f"{name}log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_log(self, pattern: str, name: str = "main") -> str:
        """The first line of ``<name>log`` matching ``pattern``, polling until it appears."""
        found: list[str] = []

        def check() -> bool:
            found[:] = [ln for ln in self.log(name).splitlines() if re.search(pattern, ln)]
            return bool(found)

        try:
            wait_until(check, f"exim {name}log line {pattern!r}", DELIVERY_TIMEOUT_S)
        except TimeoutError as err:
            raise AssertionError(f"{err}\n--- mainlog ---\n{self.log()}") from err
        return found[0]

    def messages(self) -> list[bytes]:
        return maildir_messages(self.folder / "mail" / "user")

    def wait_for_messages(self, count: int) -> list[bytes]:
        try:
            wait_until(lambda: len(self.messages()) >= count, f"{count} deliveries")
        except TimeoutError as err:
            raise AssertionError(f"{err}\n--- mainlog ---\n{self.log()}") from err
        return self.messages()


def exim_binary() -> str:
    return need_program(
        "exim4", os.environ.get("OPLGUARD_EXIM", UNPACKED_EXIM), "/usr/sbin/exim4", "exim"
    )


@contextmanager
def running_exim(main: str, acls: str) -> Iterator[Exim]:
    """Start Exim on a free loopback port with ``main`` settings and ``acls`` text.

    ``acls`` must define ``acl_check_data``; ``{folder}`` is replaced in both.
    """
    binary = exim_binary()
    if not _has_user(EXIM_USER):
        pytest.skip(f"user {EXIM_USER} is missing (exim4-base creates it; so does bootstrap)")
    folder = private_folder("oplguard-exim-")
    port = free_port()
    exim_user = pwd.getpwnam(EXIM_USER)
    for sub in ("spool", "log", "mail"):
        (folder / sub).mkdir()
        shutil.chown(folder / sub, exim_user.pw_uid, exim_user.pw_gid)
    text = CONFIG.format(binary=binary, folder=folder, main=main, acls=acls, user=EXIM_USER)
    config = folder / "exim.conf"
    config.write_text(text.replace("{folder}", str(folder)))
    out = (folder / "daemon.out").open("wb")
    proc = subprocess.Popen(
        [binary, "-C", str(config), "-bdf", "-oX", str(port), "-q1m"],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    instance = Exim(folder, port)
    try:
        wait_until(lambda: _ready(instance, proc), "exim greeting")
        yield instance
    finally:
        stop(proc)
        end_group(proc.pid)
        out.close()
        wait_until(lambda: not port_open(port), "exim port closed")
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _ready(instance: Exim, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        output = (instance.folder / "daemon.out").read_text(errors="replace")
        raise RuntimeError(f"exim exited:\n{output}\n{instance.log('panic')}\n{instance.log()}")
    return smtp_greets(instance.port)
