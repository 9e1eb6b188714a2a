"""Web service test harness: config writer, oplguard web on uvicorn in a thread, a real nsd.

nsd (Debian package) is the authoritative DNS server for PTR tests: rbldnsd
cannot serve PTR records.  It runs on a free UDP port of 127.0.0.1 with zone
files written here, and the web service's [web] dns_servers points at it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest
import uvicorn

from oplguard.config import loader as config_loader
from oplguard.web.serve import bind, uvicorn_config
from tests.conftest import ConfigWriter

READY_TIMEOUT_S = 15.0
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"


def free_udp_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP (nsd binds both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def write_web_config(
    write_config: ConfigWriter,
    tmp_path: Path,
    *,
    dns: str = "",
    web: str = "",
    dns_timeout_s: float = 0.5,
    admin_token: str = ADMIN_TOKEN,
) -> Path:
    """A config with the sample lists, a SQLite store in tmp_path and a [web] table.

    ``dns`` is one ``IP:PORT`` resolver; empty = a UDP port nobody answers on
    (lookups then time out after ``dns_timeout_s``, as with a dead resolver).
    """
    if not dns:
        dns = f"127.0.0.1:{free_udp_port()}"
    top = f'tracking_db = "sqlite:///{tmp_path / "oplguard.db"}"'
    extra = f"""
[web]
listen = "127.0.0.1:0"
{f'admin_token = "{admin_token}"' if admin_token else ""}
dns_servers = ["{dns}"]
dns_timeout_s = {dns_timeout_s}
{web}
"""
    return write_config(top=top, extra=extra, name="web.toml")


@dataclass
class RunningWeb:
    """``oplguard web`` (the real uvicorn server) on a free loopback port, in a thread."""

    config_path: Path
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    port: int = 0
    errors: list[BaseException] = field(default_factory=list)

    def __enter__(self) -> RunningWeb:
        cfg = config_loader.load(self.config_path)
        sock = bind(cfg.web.listen)
        self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn_config(cfg, cfg.web.listen))
        server = self.server

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as err:
                self.errors.append(err)
            finally:
                sock.close()

        self.thread = threading.Thread(target=run, name="oplguard-web", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not server.started:
            if self.errors or not self.thread.is_alive():
                raise RuntimeError(f"oplguard web did not start: {self.errors}")
            if time.monotonic() > deadline:
                raise RuntimeError("oplguard web did not start in time")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(READY_TIMEOUT_S)


# Reverse and forward data the PTR tests rely on (documentation addresses only).
ZONES = {
    "2.0.192.in-addr.arpa": """
99   PTR proxy.example.test.
137  PTR dsl-192-0-2-137.pool.isp.test.
10   PTR mail.example.test.
""",
    "113.0.203.in-addr.arpa": "",  # 203.0.113.66 has no PTR: NXDOMAIN
    "8.b.d.0.1.0.0.2.ip6.arpa": """
7.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.e.d.0.c PTR v6proxy.example.test.
""",
    "example.test": """
proxy    A    192.0.2.99
mail     A    192.0.2.11
v6proxy  AAAA 2001:db8:c0de:2::17
""",
    "isp.test": """
dsl-192-0-2-137.pool A 192.0.2.137
""",
}


def _zone_text(origin: str, records: str) -> str:
    return (
        f"$ORIGIN {origin}.\n$TTL 60\n"
        f"@ IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60\n"
        f"@ IN NS ns.example.test.\n{records}"
    )


@contextmanager
def nsd(zones: dict[str, str] | None = None) -> Iterator[str]:
    """Run Debian's nsd serving ``zones``; yields ``127.0.0.1:PORT`` for [web] dns_servers."""
    program = shutil.which("nsd") or "/usr/sbin/nsd"
    if not Path(program).exists():
        pytest.skip("nsd is not installed (scripts/bootstrap.sh --test installs it as root)")
    zones = ZONES if zones is None else zones
    folder = Path(tempfile.mkdtemp(prefix="oplguard-nsd-"))
    port = free_udp_port()
    conf = [
        "server:",
        f"  ip-address: 127.0.0.1@{port}",
        '  username: ""',
        '  chroot: ""',
        f'  zonesdir: "{folder}"',
        '  database: ""',
        f'  zonelistfile: "{folder}/zone.list"',
        f'  xfrdfile: "{folder}/xfrd.state"',
        f'  xfrdir: "{folder}"',
        f'  pidfile: "{folder}/nsd.pid"',
        f'  logfile: "{folder}/nsd.log"',
        "  server-count: 1",
        "  do-ip6: no",
        "remote-control:",
        "  control-enable: no",
    ]
    for origin, records in zones.items():
        (folder / f"{origin}.zone").write_text(_zone_text(origin, records), encoding="ascii")
        conf += ["zone:", f"  name: {origin}", f'  zonefile: "{origin}.zone"']
    (folder / "nsd.conf").write_text("\n".join(conf) + "\n", encoding="ascii")
    proc = subprocess.Popen(
        [program, "-d", "-c", str(folder / "nsd.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_serving(port, next(iter(zones)), proc, folder)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_serving(port: int, origin: str, proc: subprocess.Popen[bytes], folder: Path) -> None:
    """Poll an SOA query until nsd answers it (NOERROR)."""
    query = dns.message.make_query(origin, "SOA")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (folder / "nsd.log").read_text() if (folder / "nsd.log").exists() else ""
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"nsd exited: {output} {log}")
        try:
            answer = dns.query.udp(query, "127.0.0.1", timeout=0.2, port=port)
        except (dns.exception.Timeout, OSError):
            continue
        if answer.rcode() == dns.rcode.NOERROR:
            return
    raise RuntimeError("nsd did not answer in time")
