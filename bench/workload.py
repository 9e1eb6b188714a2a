"""Seeded workload: block lists and messages with 1-8 hop Received chains.

Addresses come from the benchmarking range 198.18.0.0/15 only.  10% of the
messages are listed at the connecting hop, 10% only deeper, 5% carry an
allow-listed deep hop; the rest are clean.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from pathlib import Path

BENCH_NET = ipaddress.ip_network("198.18.0.0/15")
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


def random_ip(rng: random.Random) -> str:
    return str(BENCH_NET.network_address + rng.randrange(BENCH_NET.num_addresses))


def write_list(path: Path, entries: int, rng: random.Random) -> list[str]:
    """A plain-format list of ``entries`` distinct benchmark-range IPs."""
    ips = {random_ip(rng) for _ in range(int(entries * 1.1))}
    chosen = sorted(ips)[:entries]
    rng.shuffle(chosen)
    path.write_text("".join(f"{ip} open proxy (benchmark)\n" for ip in chosen), encoding="ascii")
    return chosen


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


def build(folder: Path, count: int, list_entries: int, seed: int = 1) -> Workload:
    """Write the lists into ``folder`` and make ``count`` messages."""
    rng = random.Random(seed)
    opl = folder / "opl.txt"
    listed = write_list(opl, list_entries, rng)
    listed_set = set(listed)
    allowed = listed[:50]
    messages, spam = [], 0
    for serial in range(count):
        hops = [random_ip(rng) for _ in range(rng.randrange(1, MAX_HOPS + 1))]
        hops = [ip if ip not in listed_set else random_ip(rng) for ip in hops]
        roll = rng.random()
        if roll < LISTED_SHARE:
            hops[0] = rng.choice(listed[50:])
            spam += 1
        elif roll < LISTED_SHARE + DEEP_LISTED_SHARE and len(hops) > 1:
            hops[rng.randrange(1, len(hops))] = rng.choice(listed[50:])
            spam += 1
        elif roll < LISTED_SHARE + DEEP_LISTED_SHARE + ALLOWED_SHARE and len(hops) > 1:
            hops[-1] = rng.choice(allowed)
        messages.append(message(rng, hops, serial))
    return Workload(messages, opl, allowed, spam)
