"""A real Postfix (Debian package postfix) on a loopback port, from a temp folder.

The instance has its own main.cf, master.cf, queue and maildir delivery
(virtual(8) to ``<folder>/mail/user/``) and logs to ``<folder>/maillog``.

``<folder>/etc`` is a whole config directory: Debian's meta files
(postfix-files, dynamicmaps.cf, ...) copied from /etc/postfix, then our
main.cf and master.cf.  ``postfix start-fg`` checks it (its own
``check-fatal``/``check-warn``) before the master daemon starts.

A content filter re-injects with ``sendmail``, which reads the *default*
config directory (Postfix refuses another one to unprivileged users unless
/etc/postfix/main.cf lists it).  So that the tested recipe is the documented
one, such an instance runs in a private mount namespace where ``<folder>/etc``
is bind-mounted over /etc/postfix; the host's files are untouched (with Debian's
"No configuration" there is no /etc/postfix/main.cf to mount a file over).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import pwd
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.mta.common import (
    READY_TIMEOUT_S,
    STOP_TIMEOUT_S,
    free_port,
    maildir_messages,
    need_program,
    port_open,
    private_folder,
    smtp_greets,
    stop,
    wait_until,
)

DELIVERY_TIMEOUT_S = 30.0

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {folder}/queue
data_directory = {folder}/data
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
myhostname = mx.test.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtputf8_enable = no
biff = no
alias_maps =
alias_database =
virtual_mailbox_domains = test.example
virtual_mailbox_base = {folder}/mail
virtual_mailbox_maps = static:user/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
smtpd_authorized_xclient_hosts = 127.0.0.0/8
"""

# Debian's master.cf services, without chroot (the queue is in a temp folder).
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
{smtpd_options}
pickup    unix  n       -       n       60      1       pickup
{pickup_options}
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
{services}
"""


@dataclass
class Postfix:
    """A running instance: its folder, SMTP port, log and mailbox."""

    folder: Path
    port: int

    @property
    def maillog(self) -> str:
        path = self.folder / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_log(self, pattern: str, timeout_s: float = DELIVERY_TIMEOUT_S) -> str:
        """The first maillog line matching ``pattern`` (a regex), polling until it appears."""
        found: list[str] = []

        def check() -> bool:
            found[:] = [ln for ln in self.maillog.splitlines() if re.search(pattern, ln)]
            return bool(found)

        try:
            wait_until(check, f"maillog line {pattern!r}", timeout_s)
        except TimeoutError as err:
            raise AssertionError(f"{err}\n--- maillog ---\n{self.maillog}") from err
        return found[0]

    def messages(self) -> list[bytes]:
        return maildir_messages(self.folder / "mail" / "user")

    def wait_for_messages(self, count: int) -> list[bytes]:
        try:
            wait_until(lambda: len(self.messages()) >= count, f"{count} deliveries")
        except TimeoutError as err:
            raise AssertionError(f"{err}\n--- maillog ---\n{self.maillog}") from err
        return self.messages()


@functools.cache
def can_isolate() -> bool:
    """True if we may make a private mount namespace (root with CAP_SYS_ADMIN)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = [unshare, "--mount", "--propagation", "private", "true"]
    return subprocess.run(probe, capture_output=True, timeout=10, check=False).returncode == 0


def _options(lines: list[str]) -> str:
    return "\n".join(f"  -o {line}" for line in lines)


SYSTEM_CONFIG = Path("/etc/postfix")
# Ours, or not wanted in the instance's config directory.
NOT_COPIED = ("main.cf", "master.cf", "main.cf.proto", "master.cf.proto")


@functools.cache
def _queue_template() -> Path:
    """An empty queue, made once per test run by ``postfix check``.

    Postfix's first check creates and chowns each queue folder with a shell
    command apiece (about 2 s on a busy 2-core machine); a copy that keeps
    owners and modes (``cp -a``) is the same queue at a fraction of that.
    """
    folder = private_folder("oplguard-postfix-queue-")
    atexit.register(shutil.rmtree, folder, True)
    _prepare(folder, free_port(), "", {}, queue=None)
    postfix = need_program("postfix", "/usr/sbin/postfix")
    command = [postfix, "-c", str(folder / "etc"), "check"]
    result = subprocess.run(command, capture_output=True, timeout=READY_TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"postfix check failed:\n{result.stdout!r}\n{result.stderr!r}")
    return folder / "queue"


def _prepare(
    folder: Path,
    port: int,
    main: str,
    master: dict[str, list[str] | str],
    queue: Path | None,
) -> None:
    """Write the instance's config folder; its queue is a copy of ``queue`` if given."""
    config = folder / "etc"
    shutil.copytree(SYSTEM_CONFIG, config, ignore=shutil.ignore_patterns(*NOT_COPIED))
    nobody = pwd.getpwnam("nobody")
    postfix_user = pwd.getpwnam("postfix")
    for sub in ("data", "mail"):
        (folder / sub).mkdir()
    if queue is None:
        (folder / "queue").mkdir()
    else:
        copy = ["cp", "-a", str(queue), str(folder / "queue")]
        subprocess.run(copy, check=True, capture_output=True, timeout=READY_TIMEOUT_S)
    shutil.chown(folder / "data", postfix_user.pw_uid, postfix_user.pw_gid)
    shutil.chown(folder / "mail", nobody.pw_uid, nobody.pw_gid)
    base = MAIN_CF.format(folder=folder, uid=nobody.pw_uid, gid=nobody.pw_gid)
    (config / "main.cf").write_text(base + main)
    smtpd = master.get("smtpd", [])
    pickup = master.get("pickup", [])
    assert isinstance(smtpd, list) and isinstance(pickup, list)
    services = master.get("services", "")
    assert isinstance(services, str)
    (config / "master.cf").write_text(
        MASTER_CF.format(
            port=port,
            smtpd_options=_options(smtpd),
            pickup_options=_options(pickup),
            services=services,
        )
    )


def _command(config: Path, isolate: bool) -> list[str]:
    postfix = need_program("postfix", "/usr/sbin/postfix")
    if not isolate:
        return [postfix, "-c", str(config), "start-fg"]
    script = 'mount --bind "$1" /etc/postfix\nexec "$0" start-fg\n'
    unshare = need_program("unshare")
    return [
        unshare,
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-ec",
        script,
        postfix,
        str(config),
    ]


@contextmanager
def running_postfix(
    main: str = "",
    master: dict[str, list[str] | str] | None = None,
    needs_sendmail: bool = False,
    files: dict[str, str] | None = None,
) -> Iterator[Postfix]:
    """Start Postfix on a free loopback port; stop it and remove its folder after.

    Args:
        main: extra main.cf lines (``{folder}`` is replaced).
        master: ``smtpd``/``pickup`` option lists (``name=value``, ``{folder}``
            replaced) and ``services`` (extra master.cf text).
        needs_sendmail: the instance re-injects with sendmail (content filter).
        files: more files for the instance folder (lookup tables), by name.
    """
    need_program("postfix", "/usr/sbin/postfix")
    if needs_sendmail and not can_isolate():
        pytest.skip("a private mount namespace is needed (run as root with CAP_SYS_ADMIN)")
    folder = private_folder("oplguard-postfix-")
    port = free_port()
    fill = {k: _fill(v, folder) for k, v in (master or {}).items()}
    _prepare(folder, port, main.replace("{folder}", str(folder)), fill, _queue_template())
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    log = (folder / "start.log").open("wb")
    proc = subprocess.Popen(
        _command(folder / "etc", isolate=can_isolate()),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    instance = Postfix(folder, port)
    try:
        _wait_ready(instance, proc)
        yield instance
    finally:
        master_pid = _master_pid(folder)
        stop(proc, master_pid)
        if master_pid is not None:
            _reap_master(master_pid)
        log.close()
        wait_until(lambda: not port_open(port), "postfix port closed", READY_TIMEOUT_S)
        shutil.rmtree(folder, ignore_errors=True)


def _fill(value: list[str] | str, folder: Path) -> list[str] | str:
    if isinstance(value, str):
        return value.replace("{folder}", str(folder))
    return [item.replace("{folder}", str(folder)) for item in value]


def _wait_ready(instance: Postfix, proc: subprocess.Popen[bytes]) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            start_log = (instance.folder / "start.log").read_text(errors="replace")
            raise RuntimeError(f"postfix exited:\n{start_log}\n{instance.maillog}")
        return smtp_greets(instance.port)

    wait_until(ready, "postfix greeting")


def _reap_master(pid: int) -> None:
    """KILL the master's process group if TERM did not end it.

    master(8) runs in a session of its own (setsid), so killing the group
    of the process we started would not reach it or its children.
    """
    try:
        wait_until(lambda: not _alive(pid), "postfix master exited", STOP_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _master_pid(folder: Path) -> int | None:
    try:
        return int((folder / "queue" / "pid" / "master.pid").read_text().strip())
    except (OSError, ValueError):
        return None
