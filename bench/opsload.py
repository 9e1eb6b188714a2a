"""A real load run that fills one tracking store from a small fleet, for the operations page.

Two ``oplguard serve`` processes (hosts mx1 and mx2, as a fleet sharing one
database) score messages sent by aiospamc and, every Nth one, by Debian's
spamc.  Offenders are drawn from a few /24s with a long tail (a few IPs decide
most verdicts), at hops 1-6; some relays are allow-listed; the listed share
rises and falls over the run, so the verdict chart has a shape.  Addresses are
from the benchmarking range 198.18.0.0/15 only.  The browser test runs it for a
few hundred messages; the README's screenshot comes from a longer run:

    .venv/bin/python -m bench.opsload --folder /tmp/ops --minutes 12 --rate 8
    .venv/bin/oplguard web --config /tmp/ops/mx1.toml   # then /admin/ops
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiospamc

from bench import workload
from bench.spamc_driver import check as spamc_check
from bench.spamc_driver import spamc_program

HOSTS = ("mx1", "mx2")
HOST_SHARE = (0.7, 0.3)
# Offending networks (a few /24s, as real abuse clusters) and how many IPs of each are listed.
OFFENDER_NETS = {"opl": ("198.18.7", "198.18.9", "198.18.120"), "zombies": ("198.18.33",),
                 "spamsrc": ("198.18.201",)}  # fmt: skip
IPS_PER_NET = 12
ALLOWED_NET = "198.18.50.0/28"  # listed on opl too: the allow entry overrides it
START_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


@dataclass
class Tally:
    """What the clients saw: answers by client, spam flags, failures."""

    aiospamc: int = 0
    spamc: int = 0
    spam: int = 0
    failures: list[str] = field(default_factory=list)


def write_fleet(folder: Path) -> tuple[list[Path], dict[str, list[str]]]:
    """Lists, one config per host over one SQLite store; returns (configs, listed IPs by list)."""
    folder.mkdir(parents=True, exist_ok=True)
    listed: dict[str, list[str]] = {}
    for name, nets in OFFENDER_NETS.items():
        listed[name] = [f"{net}.{10 + 7 * i}" for net in nets for i in range(IPS_PER_NET)]
        lines = [f"{ip}  observed ({name}, benchmark)" for ip in listed[name]]
        if name == "opl":
            lines.append(f"{ALLOWED_NET}  partner relay range, also an open proxy (benchmark)")
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="ascii")
    db = folder / "oplguard.db"
    configs = []
    for host in HOSTS:
        path = folder / f"{host}.toml"
        path.write_text(_config(folder, db, host), encoding="utf-8")
        configs.append(path)
    return configs, listed


# list name, category, its sender group, the group's action and symbol
LISTS = (
    ("opl", "open-proxy", "open_proxy_list", "delete", "OPL"),
    ("zombies", "zombie", "zombies", "reject", "ZOMBIE"),
    ("spamsrc", "spam-source", "spam_sources", "tag", "SPAMSRC"),
)


def _config(folder: Path, db: Path, host: str) -> str:
    text = f'tracking_db = "sqlite:///{db}"\ncontrol_socket = "{folder / host}.sock"\n'
    text += f'\n[server]\nlisten = ["127.0.0.1:0"]\n\n[tracking]\nhost = "{host}"\n'
    for name, category, group, action, symbol in LISTS:
        text += f'\n[[lists]]\nname = "{name}"\npath = "{folder / name}.txt"\n'
        text += f'category = "{category}"\n\n[groups.{group}]\nlists = ["{name}"]\n'
        text += f'action = "{action}"\nsymbol = "{symbol}"\n'
    text += f'\n[[allowed_senders]]\nip = "{ALLOWED_NET}"\nscope = "hop"\n'
    return text + 'comment = "partner relay behind a listed proxy, ticket 4711"\n'


def listed_share(progress: float) -> float:
    """The share of listed messages at ``progress`` (0..1) of the run: a wave, 15% to 55%."""
    return 0.35 - 0.2 * math.cos(2 * math.pi * progress)


def chain_of(rng: random.Random, listed: dict[str, list[str]], share: float) -> list[str]:
    """One relay chain, newest hop first, with at most one offender."""
    chain = [workload.random_ip(rng) for _ in range(rng.randrange(1, 7))]
    roll = rng.random()
    if roll < share:
        name = rng.choices(("opl", "zombies", "spamsrc"), weights=(6, 2, 1))[0]
        pool = listed[name]
        ip = rng.choices(pool, weights=[1 / (1 + i) for i in range(len(pool))])[0]
        hop = 0 if name == "zombies" or len(chain) == 1 else rng.randrange(len(chain))
        chain[hop] = ip
    elif roll < share + 0.05 and len(chain) > 1:
        chain[-1] = f"198.18.50.{rng.randrange(1, 15)}"
    return chain


async def send(port: int, body: bytes, via_spamc: str | None, tally: Tally) -> None:
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            if via_spamc:
                is_spam = await spamc_check(via_spamc, port, body)
                tally.spamc += 1
            else:
                reply = await aiospamc.check(body, host="127.0.0.1", port=port)
                is_spam = bool(reply.headers["Spam"].value)
                tally.aiospamc += 1
    except Exception as err:  # every failure is counted and shown, never hidden
        tally.failures.append(f"{type(err).__name__}: {err}")
        return
    tally.spam += is_spam


async def drive(
    ports: Sequence[int],
    count: int,
    listed: dict[str, list[str]],
    *,
    seed: int = 7,
    rate: float = 0.0,
    concurrency: int = 8,
    spamc_every: int = 10,
) -> Tally:
    """Send ``count`` messages; at ``rate`` per second when given, else as fast as
    ``concurrency`` allows.  Every ``spamc_every``-th goes through spamc (when installed)."""
    rng, tally, gate = random.Random(seed), Tally(), asyncio.Semaphore(concurrency)
    program = spamc_program()
    started = time.monotonic()

    async def one(serial: int) -> None:
        if rate:
            await asyncio.sleep(max(0.0, started + serial / rate - time.monotonic()))
        chain = chain_of(rng, listed, listed_share(serial / max(count, 1)))
        body = workload.message(rng, chain, serial)
        port = rng.choices(ports, weights=HOST_SHARE[: len(ports)])[0]
        via = program if program and spamc_every and serial % spamc_every == 0 else None
        async with gate:
            await send(port, body, via, tally)

    await asyncio.gather(*(one(serial) for serial in range(count)))
    return tally


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(configs: Sequence[Path]) -> Iterator[list[int]]:
    """``oplguard serve`` per config on free loopback ports; SIGTERM (no record lost) at the end."""
    with ExitStack() as stack:
        ports = []
        for config in configs:
            port = free_port()
            proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("oplguard")), "serve", "--config",
                 str(config), "--listen", f"127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            stack.callback(_stop, proc)
            _wait_listening(port, proc)
            ports.append(port)
        yield ports


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"oplguard serve exited: {proc.communicate()[1].decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("oplguard serve did not start listening")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


def load_run(folder: Path, count: int, rate: float = 0.0, seed: int = 7) -> Tally:
    """Write the fleet into ``folder``, serve it, send ``count`` messages, stop; the store is
    ``folder/oplguard.db``."""
    configs, listed = write_fleet(folder)
    with serving(configs) as ports:
        return asyncio.run(drive(ports, count, listed, seed=seed, rate=rate))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.opsload", description=__doc__)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--rate", type=float, default=8.0, help="messages per second")
    args = parser.parse_args()
    count = int(args.minutes * 60 * args.rate)
    tally = load_run(args.folder, count, rate=args.rate)
    print(
        f"{count} messages: {tally.aiospamc} by aiospamc, {tally.spamc} by spamc, "
        f"{tally.spam} spam, {len(tally.failures)} failures; store {args.folder / 'oplguard.db'}"
    )
    for failure in tally.failures[:10]:
        print(f"  {failure}", file=sys.stderr)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
