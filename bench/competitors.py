"""The servers compared by ``bench.run``, each set up on loopback in a temp folder.

- ``oplguard``: ``oplguard serve`` with the workload's list and allow-list;
  ``oplguard-mypyc`` the same with the mypyc build (setup.py, scripts/compiled.sh).
- ``ceiling``: ``bench.ceiling``, a fixed reply (no parsing, no lookup).
- ``spamassassin``: Debian's ``spamd`` with only the Check and DNSEval plugins
  and one rule, ``check_rbl`` of every untrusted relay IP against a local
  ``rbldnsd`` zone holding the same list; 5 children, as spamd's default.
- ``rspamd``: Debian's ``rspamd`` with a config of its own (no stock rules,
  only the multimap plugin) and one ``received`` multimap over the relay IPs
  with the same list; 2 normal workers.

The competitors' lists are made by ``oplguard lists export`` from the same
config, so they hold the list with the allow-listed entries carved out — the
same job.  Each context manager yields a :class:`Server` once the port
answers, and stops the process tree by its pid afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import workload

REPO = Path(__file__).resolve().parents[1]

# SpamAssassin and rspamd compile their setup at start (rspamd: ~10k TLD
# suffixes); on a busy 2-core machine that has taken over 30 s.
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 20.0
SPAMD_CHILDREN = 5  # spamd's default --max-children
RSPAMD_WORKERS = 2
LISTED_SCORE = 6.0  # above every server's threshold of 5.0
RBL_ZONE = "bench.local"


@dataclass
class Server:
    """A running server: where to send, and which processes to account."""

    name: str
    port: int
    pid: int
    helper_pids: list[int] = field(default_factory=list)
    startup_s: float = 0.0
    notes: str = ""


class NotAvailable(RuntimeError):
    """A competitor's program is not installed (``bench/setup.sh`` installs it)."""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def program(name: str, fallback: str) -> str:
    found = shutil.which(name) or fallback
    if not os.path.exists(found):
        raise NotAvailable(f"{name} is not installed (run bench/setup.sh as root)")
    return found


PROBE = b"Subject: ready?\r\n\r\nprobe\r\n"


def _answers(port: int) -> bool:
    """A CHECK answered with EX_OK (rspamd's spamc mode has no PING)."""
    request = b"CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(PROBE) + PROBE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            return sock.recv(64).startswith(b"SPAMD/1.1 0 EX_OK")
    except OSError:
        return False


def _wait_ready(name: str, port: int, proc: subprocess.Popen[bytes], log: Path | None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{name} exited with {proc.returncode}\n{tail}")
        if _answers(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer CHECK on port {port} in {READY_TIMEOUT_S} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group we started (servers forward it to their children)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def _running(
    name: str,
    command: list[str],
    port: int,
    log: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    try:
        _wait_ready(name, port, proc, log)
        yield Server(name, port, proc.pid, startup_s=time.perf_counter() - started)
    finally:
        _stop(proc)


def _readable(folder: Path) -> Path:
    """spamd, rbldnsd and rspamd drop root: let them read what we wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    return folder


def write_oplguard_config(
    folder: Path, work: workload.Workload, port: int, workers: int, tracking: bool = True
) -> Path:
    """The config of an oplguard under test; ``tracking``: every record into a SQLite file in
    ``folder``, as a default install does (``tracking_db``), else tracking off."""
    allowed = "".join(f'[[allowed_senders]]\nip = "{ip}"\nscope = "hop"\n\n' for ip in work.allowed)
    top = f'tracking_db = "sqlite:///{folder.resolve() / "tracking.db"}"\n\n' if tracking else ""
    server = top + f'[server]\nlisten = ["127.0.0.1:{port}"]\nmax_connections = 256\n'
    if workers != 1:
        server += f"workers = {workers}\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench.toml"
    path.write_text(
        server + "\n"
        f'[[lists]]\nname = "opl"\npath = "{work.opl_path}"\ncategory = "open-proxy"\n\n'
        f'[groups.open_proxy_list]\nlists = ["opl"]\naction = "delete"\nsymbol = "OPL"\n\n'
        + allowed,
        encoding="utf-8",
    )
    return path


def oplguard_command() -> list[str]:
    return [str(Path(sys.executable).with_name("oplguard"))]


def export_list(config: Path, fmt: str, output: Path) -> None:
    """The list minus the allow-list, in a competitor's format, by ``oplguard lists export``."""
    subprocess.run(
        [
            *oplguard_command(),
            "lists",
            "export",
            "--config",
            str(config),
            "--format",
            fmt,
            "--output",
            str(output),
        ],
        check=True,
    )


def compiled_env() -> dict[str, str]:
    """The environment that runs the mypyc build of oplguard (setup.py), built if needed."""
    subprocess.run([str(REPO / "scripts" / "compiled.sh"), "build"], check=True)
    return {**os.environ, "PYTHONPATH": str(REPO / "build" / "compiled")}


@contextmanager
def oplguard(
    folder: Path,
    work: workload.Workload,
    workers: int = 1,
    name: str = "oplguard",
    compiled: bool = False,
    tracking: bool = True,
) -> Iterator[Server]:
    port = free_port()
    config = write_oplguard_config(folder / name.replace(":", "-"), work, port, workers, tracking)
    command = [*oplguard_command(), "serve", "--config", str(config)]
    env = compiled_env() if compiled else None
    with _running(name, command, port, env=env) as server:
        server.notes = (
            f"workers={workers}"
            + (", mypyc build" if compiled else "")
            + (", tracking on (SQLite)" if tracking else ", tracking off")
        )
        yield server


@contextmanager
def ceiling(folder: Path) -> Iterator[Server]:
    del folder
    port = free_port()
    with _running("ceiling", [sys.executable, "-m", "bench.ceiling", str(port)], port) as server:
        server.notes = "fixed reply, one asyncio process"
        yield server


SA_PLUGINS = """\
loadplugin Mail::SpamAssassin::Plugin::Check
loadplugin Mail::SpamAssassin::Plugin::DNSEval
"""
SA_RULES = """\
required_score 5.0
use_bayes 0
report_safe 0
util_rb_tld com net org example local
dns_available yes
dns_server 127.0.0.1:{dns_port}
rbl_timeout 5
header   RCVD_IN_BENCH  eval:check_rbl('bench', '{zone}.')
describe RCVD_IN_BENCH  A relay IP is on the benchmark list
tflags   RCVD_IN_BENCH  net
score    RCVD_IN_BENCH  {score}
"""


@contextmanager
def rbldnsd(folder: Path, zone_file: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """rbldnsd serving ``zone_file`` as ``bench.local`` (ip4set) on a loopback UDP port."""
    binary = program("rbldnsd", "/usr/sbin/rbldnsd")
    port = free_port(socket.SOCK_DGRAM)
    user = ["-u", "rbldns"] if os.geteuid() == 0 else []
    command = [
        binary,
        "-n",
        *user,
        "-w",
        str(folder),
        "-b",
        f"127.0.0.1/{port}",
        "-t",
        "60",
        "-c",
        "1",
        f"{RBL_ZONE}:ip4set:{zone_file.name}",
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_dns(port, proc)
        yield port, proc
    finally:
        _stop(proc)


def _wait_dns(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Poll with a version.bind query until rbldnsd answers (it loads the zone first)."""
    query = bytes.fromhex("abcd01000001000000000000") + b"\x07version\x04bind\x00\x00\x10\x00\x03"
    deadline = time.monotonic() + READY_TIMEOUT_S
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"rbldnsd exited with {proc.returncode}")
            sock.sendto(query, ("127.0.0.1", port))
            try:
                sock.recvfrom(512)
                return
            except TimeoutError:
                continue
    raise RuntimeError("rbldnsd did not answer")


@contextmanager
def spamassassin(folder: Path, work: workload.Workload) -> Iterator[Server]:
    binary = program("spamd", "/usr/sbin/spamd")
    base = _readable(folder / "spamassassin")
    rules, site, zone = (_readable(base / sub) for sub in ("rules", "site", "zone"))
    config = write_oplguard_config(base, work, free_port(), 1)
    export_list(config, "rbldnsd", zone / "opl")
    (zone / "opl.ip4set").chmod(0o644)
    with rbldnsd(zone, zone / "opl.ip4set") as (dns_port, dns):
        (site / "init.pre").write_text(SA_PLUGINS)
        (rules / "bench.cf").write_text(
            SA_RULES.format(dns_port=dns_port, zone=RBL_ZONE, score=LISTED_SCORE)
        )
        port = free_port()
        user = ["--username", "nobody"] if os.geteuid() == 0 else []
        command = [
            binary, "--listen", f"127.0.0.1:{port}", "--allowed-ips", "127.0.0.1",
            "--nouser-config", "--max-children", str(SPAMD_CHILDREN),
            "--min-children", str(SPAMD_CHILDREN), "--min-spare", str(SPAMD_CHILDREN),
            "--configpath", str(rules), "--siteconfigpath", str(site),
            "--syslog", str(base / "spamd.log"), "--pidfile", str(base / "spamd.pid"), *user,
        ]  # fmt: skip
        with _running("spamassassin", command, port, base / "spamd.log") as server:
            server.helper_pids = [dns.pid]
            server.notes = (
                f"spamd {SPAMD_CHILDREN} children, check_rbl over rbldnsd (its CPU is "
                "reported as helper CPU)"
            )
            yield server


RSPAMD_CONF = """\
options {{
  pidfile = "{base}/rspamd.pid";
  dbdir = "{base}/db";
  tempdir = "{base}/tmp";
  filters = "";
  hs_cache_dir = "{base}/db/";
  dns {{ nameserver = ["127.0.0.1:53"]; timeout = 1s; retransmits = 1; }}
}}
logging {{ type = "file"; filename = "{base}/rspamd.log"; level = "warning"; }}
worker "normal" {{ bind_socket = "127.0.0.1:{port}"; count = {workers}; }}
actions {{ reject = 5; }}
lua = "{base}/bench.lua";
modules {{ path = "${{PLUGINSDIR}}"; }}
multimap {{
  BENCH_OPL {{
    type = "received";
    filter = "real_ip";
    map = "{base}/opl.map";
    disable_multisymbol = true;
    score = {score};
    description = "A relay IP is on the benchmark list";
  }}
}}
"""
# The exported map carries a reason after each network; without
# disable_multisymbol, rspamd 3.4 takes its first word as a symbol name.
# rules/rspamd.lua would load the stock rules; the multimap plugin only needs
# the global helpers it defines.
RSPAMD_LUA = 'require "global_functions" ()\nrspamd_maps = {}\n'


@contextmanager
def rspamd(folder: Path, work: workload.Workload) -> Iterator[Server]:
    binary = program("rspamd", "/usr/bin/rspamd")
    base = _readable(folder / "rspamd")
    for sub in ("db", "tmp"):
        _readable(base / sub)
    config = write_oplguard_config(base, work, free_port(), 1)
    export_list(config, "rspamd", base / "opl.map")
    port = free_port()
    (base / "bench.lua").write_text(RSPAMD_LUA)
    conf = base / "rspamd.conf"
    conf.write_text(
        RSPAMD_CONF.format(base=base, port=port, workers=RSPAMD_WORKERS, score=LISTED_SCORE)
    )
    user: list[str] = []
    if os.geteuid() == 0:
        user = ["-u", "_rspamd", "-g", "_rspamd"]
        for path in [base, *base.rglob("*")]:
            shutil.chown(path, "_rspamd", "_rspamd")
    command = [binary, "-f", "-c", str(conf), *user]
    with _running("rspamd", command, port, base / "rspamd.log") as server:
        server.notes = f"{RSPAMD_WORKERS} normal workers, one received multimap, no stock rules"
        yield server


SERVERS = ("oplguard", "oplguard-notrack", "oplguard-mypyc", "ceiling", "spamassassin", "rspamd")
