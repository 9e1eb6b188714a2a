"""The per-message limits (oplguard.mail.limits): each cuts, says so, and keeps memory linear."""

from __future__ import annotations

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from oplguard.mail.headers import fields_of, header_fields, header_fields_within, section_pieces
from oplguard.mail.limits import (
    MAX_CHECKED_IPS,
    MAX_EVIDENCE_CHARS,
    MAX_HEADER_BYTES,
    MAX_ORIGINATING_IPS,
    MAX_ORIGINATING_IPS_PER_HEADER,
    Slices,
)
from oplguard.mail.relays import (
    ChainSteps,
    RelayChain,
    TrustSettings,
    advance,
    build_chain,
    chain_steps,
)

TRUST = TrustSettings()


def ips(count: int, second: int = 51) -> str:
    return " ".join(f"198.{second}.{i >> 8 & 255}.{i & 255}" for i in range(1, count + 1))


def message(*headers: str) -> bytes:
    return ("".join(f"{h}\r\n" for h in headers) + "Subject: x\r\n\r\nbody\r\n").encode()


def received(ip: str) -> str:
    return f"Received: from h.example (h.example [{ip}]) by mx.example.net with ESMTP id 1"


def test_originating_ips_are_cut_per_header_and_share_one_evidence_string() -> None:
    chain = build_chain(message(f"X-Originating-IP: {ips(8_000)}"), TRUST)
    taken = [relay for relay in chain.relays if relay.originating]
    assert [r.ip for r in taken] == ips(MAX_ORIGINATING_IPS_PER_HEADER).split()
    assert len({id(r.raw) for r in taken}) == 1  # one string per header, not one per IP
    assert len(taken[0].raw) == MAX_EVIDENCE_CHARS
    assert [cut.limit for cut in chain.cuts] == ["MAX_ORIGINATING_IPS_PER_HEADER"]


def test_originating_ips_are_cut_in_total() -> None:
    headers = [f"X-Originating-IP: {ips(5, second)}" for second in range(1, 21)]
    chain = build_chain(message(*headers), TRUST)
    assert sum(relay.originating for relay in chain.relays) == MAX_ORIGINATING_IPS
    assert [cut.limit for cut in chain.cuts] == ["MAX_ORIGINATING_IPS"]


def test_a_few_originating_ips_are_not_a_cut() -> None:
    chain = build_chain(message(received("192.0.2.1"), "X-Originating-IP: [198.51.100.9]"), TRUST)
    assert [relay.ip for relay in chain.checked] == ["192.0.2.1", "198.51.100.9"]
    assert chain.cuts == ()


def test_checked_ips_are_capped() -> None:
    hops = [received(f"198.51.100.{i}") for i in range(1, 91)]
    chain = build_chain(message(*hops), TRUST)
    assert len(chain.relays) == 90
    assert [relay.ip for relay in chain.checked] == [f"198.51.100.{i}" for i in range(1, 65)]
    assert len(chain.checked) == MAX_CHECKED_IPS
    assert [cut.limit for cut in chain.cuts] == ["MAX_CHECKED_IPS"]


def test_memory_is_linear_in_the_header() -> None:
    """The bug of issue 13: one copy of the header value per IP (~100 KB -> > 1 GB)."""
    hostile = message(f"X-Originating-IP: {ips(8_000)}")
    tracemalloc.start()
    try:
        chain = build_chain(hostile, TRUST)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert chain.cuts
    assert peak < 20 * len(hostile), (peak, len(hostile))


def test_header_section_is_read_up_to_the_limit() -> None:
    line = b"X-Filler: " + b"a" * 90 + b"\r\n"
    long_head = line * (2 * MAX_HEADER_BYTES // len(line)) + b"Subject: late\r\n\r\nbody"
    fields, cut = header_fields_within(long_head, MAX_HEADER_BYTES)
    assert cut
    assert len(fields) == MAX_HEADER_BYTES // len(line)
    assert all(value == "a" * 90 for _name, value in fields)  # no partial last line
    short = message(received("192.0.2.1")) + b"x" * (2 * MAX_HEADER_BYTES)
    assert header_fields_within(short, MAX_HEADER_BYTES) == (header_fields(short), False)


def run(steps: ChainSteps) -> RelayChain:
    """Drive ``chain_steps`` to the end, as the scanner does (without an event loop)."""
    while (chain := advance(steps)) is None:
        pass
    return chain


def test_a_long_header_section_yields_between_slices_and_parses_the_same() -> None:
    hops = [received(f"198.51.100.{i}") for i in range(1, 60)]
    hostile = message(*hops, *(["X-A: b"] * 12_000), "X-Originating-IP: 203.0.113.9")
    steps = chain_steps(hostile, TRUST, Slices(None, slice_s=0.0))
    yields = 0
    while True:
        try:
            next(steps)
            yields += 1
        except StopIteration as done:
            sliced: RelayChain = done.value
            break
    whole = build_chain(hostile, TRUST)
    assert yields > 20  # every piece of header text and every Received field
    assert sliced == whole and sliced.fields == whole.fields
    assert len(whole.checked) == 60 and whole.cuts == ()


line = st.sampled_from(["X-A: b", "Received: from x", "\tcont", "  more", "junk", "S: " + "y" * 40])


@settings(max_examples=200, deadline=None)
@given(st.lists(line, max_size=60), st.sampled_from(["\n", "\r\n"]), st.integers(1, 120))
def test_pieces_parse_to_the_same_fields(lines: list[str], newline: str, size: int) -> None:
    section = newline.join(lines)
    pieces = tuple(f for piece in section_pieces(section, size) for f in fields_of(piece))
    assert pieces == fields_of(section)


def test_cpu_budget_stops_the_walk_and_says_so() -> None:
    hops = [received(f"198.51.100.{i}") for i in range(1, 30)]
    chain = run(chain_steps(message(*hops, "X-Originating-IP: 203.0.113.9"), TRUST, Slices(0.0)))
    # the newest MIN_RECEIVED_WALKED hops are walked whatever the budget; then it stops
    assert [r.ip for r in chain.relays] == [f"198.51.100.{i}" for i in range(1, 9)]
    assert [cut.limit for cut in chain.cuts] == ["scan_cpu_budget_ms"]
    assert "scan stopped after 8 Received headers" in chain.cuts[0].sentence()
