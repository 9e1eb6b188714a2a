"""Seeded workload: block lists and messages with 1-8 hop Received chains.

Relay addresses come from the benchmarking range 198.18.0.0/15 only: listed
ones from 198.18.0.0/16, clean ones from 198.19.0.0/16 (never listed, so the
labels are exact).  Lists bigger than ``HIT_POOL`` are filled up with
addresses of the reserved 240.0.0.0/4, which no message carries: they cost
memory and lookup structure like any entry.  10% of the messages are listed
at the connecting hop, 10% only deeper, 5% carry an allow-listed deep hop;
the rest are clean.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from pathlib import Path

LISTED_NET = ipaddress.ip_network("198.18.0.0/16")
CLEAN_NET = ipaddress.ip_network("198.19.0.0/16")
FILLER_NET = ipaddress.ip_network("240.0.0.0/4")
# Odd, so i * FILLER_STRIDE mod 2**28 visits distinct addresses of FILLER_NET.
FILLER_STRIDE = 2_654_435_761
HIT_POOL = 20_000
WRITE_CHUNK = 100_000
LISTED_SHARE = 0.10
DEEP_LISTED_SHARE = 0.10
ALLOWED_SHARE = 0.05
MAX_HOPS = 8

FORMATS = {
    "postfix": "from {helo} ({helo} [{ip}])\r\n\tby {by} (Postfix) with ESMTPS id {qid}\r\n"
    "\tfor <user@example.net>; Tue,  1 Oct 2024 10:00:0{n} +0000 (UTC)",
    "exim": "from {helo} ([{ip}] helo={helo})\r\n\tby {by} with esmtps (TLS1.3) tls "
    "TLS_AES_256_GCM_SHA384 (Exim 4.97)\r\n\t(envelope-from <a@example.org>) id {qid}; "
    "Tue, 01 Oct 2024 10:00:0{n} +0000",
    "sendmail": "from {helo} ({helo} [{ip}])\r\n\tby {by} (8.17.1/8.17.1) with ESMTPS id {qid}; "
    "Tue, 1 Oct 2024 10:00:0{n} GMT",
    "exchange": "from {helo} ({ip}) by {by} (2603:10b6:5:100::10) with Microsoft SMTP Server "
    "(version=TLS1_2) id 15.20.7982.20; Tue, 1 Oct 2024 10:00:0{n} +0000",
    "gmail": "from {helo} ({helo}. [{ip}])\r\n\tby mx.google.com with ESMTPS id {qid}\r\n"
    "\tfor <user@example.net>; Tue, 01 Oct 2024 03:00:0{n} -0700 (PDT)",
}


@dataclass(frozen=True)
class Workload:
    """Messages to send and the list files they were drawn against."""

    messages: list[bytes]
    opl_path: Path
    allowed: list[str]
    expected_spam: int
    labels: list[bool]  # per message: should be flagged as spam
    listed: list[str]  # list entries that messages may carry


def random_ip(rng: random.Random) -> str:
    """A clean relay address (never on a list)."""
    return str(CLEAN_NET.network_address + rng.randrange(CLEAN_NET.num_addresses))


def _dotted(value: int) -> str:
    return f"{value >> 24}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def write_list(path: Path, entries: int, rng: random.Random) -> list[str]:
    """A plain-format list of ``entries`` distinct IPs; returns those messages may carry."""
    base = int(LISTED_NET.network_address)
    hits = [
        _dotted(base + v)
        for v in rng.sample(range(LISTED_NET.num_addresses), min(entries, HIT_POOL))
    ]
    filler_base, filler_size = int(FILLER_NET.network_address), FILLER_NET.num_addresses
    with path.open("w", encoding="ascii") as out:
        out.write("".join(f"{ip} open proxy (benchmark)\n" for ip in hits))
        for start in range(0, entries - len(hits), WRITE_CHUNK):
            stop = min(entries - len(hits), start + WRITE_CHUNK)
            out.write(
                "".join(
                    f"{_dotted(filler_base + i * FILLER_STRIDE % filler_size)} filler\n"
                    for i in range(start, stop)
                )
            )
    return hits


def message(rng: random.Random, hops: list[str], serial: int) -> bytes:
    lines = []
    for n, ip in enumerate(hops):
        fmt = FORMATS[rng.choice(sorted(FORMATS))]
        by = "mx.example.net" if n == 0 else f"relay{n}.example.org"
        lines.append(
            "Received: "
            + fmt.format(helo=f"h{n}.example.com", ip=ip, by=by, qid=f"Q{serial:08d}{n}", n=n % 10)
        )
    head = "\r\n".join(lines)
    return (
        f"{head}\r\nMessage-ID: <bench-{serial}@example.org>\r\nFrom: a@example.org\r\n"
        f"To: b@example.net\r\nSubject: bench {serial}\r\n\r\n"
        + "Lorem ipsum dolor sit amet.\r\n"
        * rng.randrange(5, 60)
    ).encode()


def build(
    folder: Path,
    count: int,
    list_entries: int,
    seed: int = 1,
    hops: tuple[int, int] = (1, MAX_HOPS),
) -> Workload:
    """Write the lists into ``folder`` and make ``count`` messages of ``hops`` (min, max) hops."""
    rng = random.Random(seed)
    opl = folder / "opl.txt"
    listed = write_list(opl, list_entries, rng)
    allowed = listed[:50]
    messages, labels = [], []
    for serial in range(count):
        chain = [random_ip(rng) for _ in range(rng.randrange(hops[0], hops[1] + 1))]
        roll, listed_here = rng.random(), False
        if roll < LISTED_SHARE:
            chain[0] = rng.choice(listed[50:])
            listed_here = True
        elif roll < LISTED_SHARE + DEEP_LISTED_SHARE and len(chain) > 1:
            chain[rng.randrange(1, len(chain))] = rng.choice(listed[50:])
            listed_here = True
        elif roll < LISTED_SHARE + DEEP_LISTED_SHARE + ALLOWED_SHARE and len(chain) > 1:
            chain[-1] = rng.choice(allowed)
        messages.append(message(rng, chain, serial))
        labels.append(listed_here)
    return Workload(messages, opl, allowed, sum(labels), labels, listed)
