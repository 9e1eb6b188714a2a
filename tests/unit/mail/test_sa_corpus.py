"""Our Received parser against SpamAssassin itself, over the real-world corpus.

tests/data/received/expected.json is written by sa_expected.pl (SpamAssassin's
own parse_received_line); it is never edited by hand.  Deliberate differences
are normalised here, each with its reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from tests.unit.mail.corpus import CORPUS, expected, samples, unfolded

from oplguard.mail.addresses import canonical_ip
from oplguard.mail.received import Fetch, ParseResult, Relay, Skipped, Unparseable, parse_received

FIELDS = ("ip", "rdns", "helo", "by", "ident", "envfrom", "id", "auth")
KIND: dict[type[ParseResult], str] = {
    Relay: "relay",
    Skipped: "skipped",
    Fetch: "fetch",
    Unparseable: "unparseable",
}
MIN_CORPUS_LINES = 150
SA_SCRIPT = CORPUS / "sa_expected.pl"
SA_TIMEOUT_S = 120

# (file, line) -> (our result, why it differs from SpamAssassin's on purpose).
KNOWN_DIFFERENCES: dict[tuple[str, int], tuple[str, str]] = {
    ("junk.txt", 27): (
        "unparseable",
        "SA keeps a relay with an empty IP (Hotmail shape without one); a field"
        " without a usable client IP names no relay, so we count it unparseable",
    ),
}


def sa_text(value: str) -> str:
    """SA 4 hands header text on as UTF-8 octets: decode them back.

    Our parser keeps the latin-1 reading of 8-bit bytes (relay-chain.md §1: decode
    leniently, never fail); SA shows the same character UTF-8 encoded.
    """
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def sa_view(case: dict[str, Any]) -> dict[str, str]:
    """SA's result, normalised where we differ on purpose.

    The IP is canonicalised (spec ★): SA keeps the text as written (upper-case
    or uncompressed IPv6), we compare and look up the canonical form.
    """
    view = {"result": case["result"]}
    if case["result"] == "relay":
        view.update({name: sa_text(case[name]) for name in FIELDS})
        view["ip"] = canonical_ip(view["ip"]) or view["ip"]
    return view


def our_view(value: str) -> dict[str, str]:
    """Our result in the same shape."""
    result = parse_received(unfolded(value))
    view = {"result": KIND[type(result)]}
    if isinstance(result, Relay):
        view.update({name: getattr(result, name) for name in FIELDS})
    return view


CASES = expected()["cases"]


def test_expected_json_covers_the_whole_corpus() -> None:
    lines = [(s.file, s.line, s.value) for s in samples()]
    assert [(c["file"], c["line"], c["value"]) for c in CASES] == lines, (
        "expected.json is stale: run perl tests/data/received/sa_expected.pl"
        " > tests/data/received/expected.json"
    )
    assert len(lines) >= MIN_CORPUS_LINES


@pytest.mark.parametrize("case", CASES, ids=[f"{c['file']}:{c['line']}" for c in CASES])
def test_parser_agrees_with_spamassassin(case: dict[str, Any]) -> None:
    assert unfolded(case["value"]) == sa_text(case["unfolded"])
    known = KNOWN_DIFFERENCES.get((case["file"], case["line"]))
    if known is not None:
        ours, _reason = known
        assert our_view(case["value"])["result"] == ours
        assert sa_view(case)["result"] != ours
        return
    assert our_view(case["value"]) == sa_view(case)


def test_corpus_covers_every_kind_of_result() -> None:
    kinds = {case["result"] for case in CASES}
    assert kinds == {"relay", "skipped", "fetch", "unparseable"}


def _perl_has_spamassassin() -> bool:
    perl = shutil.which("perl")
    if perl is None:
        return False
    probe = subprocess.run(
        [perl, "-MMail::SpamAssassin", "-MJSON::PP", "-e1"],
        capture_output=True,
        check=False,
        timeout=SA_TIMEOUT_S,
    )
    return probe.returncode == 0


@pytest.mark.integration
def test_stored_expectations_match_the_installed_spamassassin() -> None:
    if not _perl_has_spamassassin():
        pytest.skip("perl with Mail::SpamAssassin and JSON::PP is not installed")
    run = subprocess.run(
        ["perl", str(SA_SCRIPT), str(CORPUS)],
        capture_output=True,
        check=True,
        timeout=SA_TIMEOUT_S,
    )
    live = json.loads(run.stdout)
    stored = expected()
    assert live["cases"] == stored["cases"], (
        f"SpamAssassin {live['spamassassin']} parses the corpus differently from the stored "
        f"{stored['spamassassin']} expectations: regenerate expected.json and review the diff"
    )
