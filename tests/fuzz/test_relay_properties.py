"""Property tests of the Received / relay-chain parser: hostile header text
never raises, never hangs (no catastrophic backtracking), and every IP it
returns is a canonical address that occurs in the input."""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oplguard.mail.received import Relay, parse_received
from tests.fuzz.corpus import received_lines
from tests.fuzz.guards import no_hang

LINES = received_lines()
PIECES = ["[", "]", "(", ")", " ", "from ", " by ", "helo=", "::", ".", "\x00", "ä", ";"]


def check_relay(value: str) -> None:
    result = parse_received(value)
    if isinstance(result, Relay):
        address = ipaddress.ip_address(result.ip)
        assert str(address) == result.ip


@st.composite
def mutated_line(draw: st.DrawFn) -> str:
    text = list(draw(st.sampled_from(LINES)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        where = draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))
        piece = draw(
            st.sampled_from(
                [
                    "[",
                    "]",
                    "(",
                    ")",
                    " ",
                    "from ",
                    " by ",
                    "helo=",
                    "::",
                    ".",
                    "\x00",
                    "ä",
                    ";",
                    draw(st.text(max_size=8)),
                ]
            )
        )
        if draw(st.booleans()) and text:
            del text[where]
        text[where:where] = list(piece)
    return "".join(text)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_line())
def test_mutated_received_lines_parse_or_are_refused(value: str) -> None:
    with no_hang():
        check_relay(value)


def test_pathological_inputs_finish() -> None:
    bad = [
        "from " + "[" * 50_000,
        "from a (" * 5_000 + "by b",
        "from " + "1." * 30_000 + " by x",
        "from x ([" + "1:" * 20_000 + "]) by y",
        "from " + "a" * 100_000 + " by " + "b" * 100_000,
        "from x (helo=" + "=" * 50_000 + ") by y with esmtp id 1",
        "from x (x [192.0.2.1]" + " (" * 10_000 + ") by y",
    ]
    with no_hang():
        for value in bad:
            check_relay(value)
