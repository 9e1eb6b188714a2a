"""The two chain-level behaviours of SpamAssassin's Received parser, checked against the
installed SpamAssassin (tests/data/received/sa_chain.pl): a qmail-scanner line's envelope
sender goes to the next relay, and 8-bit header text is read as SA reads it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from tests.unit.mail.corpus import CORPUS

from oplguard.mail.received import Relay, parse_received
from oplguard.mail.relays import TrustSettings, build_chain

SA_CHAIN = CORPUS / "sa_chain.pl"
SA_TIMEOUT_S = 120
FIELDS = ("ip", "rdns", "helo", "by", "ident", "envfrom", "id", "auth")
QMAIL_SCANNER = (
    b"Received: from 156.56.111.196 by blazing.arsecandle.org (envelope-from "
    b"<gentoo-announce-return-530-rod=arsecandle.org@lists.gentoo.org>, uid 502) with "
    b"qmail-scanner-1.24 (clamdscan: 0.80/594. Clear:RC:0(156.56.111.196):. Processed in "
    b"0.288806 secs); 06 Feb 2005 21:11:38 -0000\n"
    b"Received: from lists.gentoo.org (HELO lists.gentoo.org) (156.56.111.196)\n"
    b"  by blazing.arsecandle.org with SMTP; 06 Feb 2005 21:11:38 -0000\n"
    b"Received: from mail.example.com (mail.example.com [203.0.113.9])\n"
    b"  by lists.gentoo.org (Postfix) with ESMTP id 1A2B3C; Sun,  6 Feb 2005 21:11:30 +0000\n"
    b"Subject: qmail-scanner\n\nbody\n"
)
# HELO names with 8-bit bytes: Windows-1252 punctuation (not UTF-8), latin-1 letters
# (not UTF-8), bytes Windows-1252 leaves undefined, and valid UTF-8.
EIGHT_BIT = (
    b"Received: from \x93smart\x94 (a.example [198.51.100.1])\n"
    b"  by mx.example.net (Postfix) with ESMTP id AAA1; Sun,  6 Feb 2005 21:11:39 +0000\n"
    b"Received: from caf\xe9 (b.example [198.51.100.2])\n"
    b"  by a.example (Postfix) with ESMTP id AAA2; Sun,  6 Feb 2005 21:11:38 +0000\n"
    b"Received: from x\x81\x9dy (c.example [198.51.100.3])\n"
    b"  by b.example (Postfix) with ESMTP id AAA3; Sun,  6 Feb 2005 21:11:37 +0000\n"
    b"Received: from caf\xc3\xa9 (d.example [198.51.100.4])\n"
    b"  by c.example (Postfix) with ESMTP id AAA4; Sun,  6 Feb 2005 21:11:36 +0000\n"
    b"Subject: 8-bit\n\nbody\n"
)


def ours(message: bytes) -> list[dict[str, str]]:
    chain = build_chain(message, TrustSettings())
    return [{name: str(getattr(relay, name)) for name in FIELDS} for relay in chain.relays]


def spamassassin(message: bytes) -> list[dict[str, str]]:
    perl = shutil.which("perl")
    probe = subprocess.run(
        [perl or "perl", "-MMail::SpamAssassin", "-MJSON::PP", "-e1"],
        capture_output=True,
        check=False,
        timeout=SA_TIMEOUT_S,
    )
    if perl is None or probe.returncode != 0:
        pytest.skip("perl with Mail::SpamAssassin and JSON::PP is not installed")
    run = subprocess.run(
        [perl, str(SA_CHAIN)], input=message, capture_output=True, check=True, timeout=SA_TIMEOUT_S
    )
    relays: list[dict[str, str]] = json.loads(run.stdout)  # SA's octets are UTF-8
    return relays


def test_qmail_scanner_envelope_sender_goes_to_the_next_relay() -> None:
    relays = ours(QMAIL_SCANNER)
    assert [r["envfrom"] for r in relays] == [
        "gentoo-announce-return-530-rod=arsecandle.org@lists.gentoo.org",
        "",
    ]


def test_qmail_scanner_envelope_sender_lives_for_one_line_only() -> None:
    skipped_between = QMAIL_SCANNER.replace(
        b"Received: from lists.gentoo.org",
        b"Received: from www-data by lists.gentoo.org with local id 1Q; 6 Feb 2005\n"
        b"Received: from lists.gentoo.org",
    )
    assert [r["envfrom"] for r in ours(skipped_between)] == ["", ""]


def test_eight_bit_helo_is_read_as_spamassassin_reads_it() -> None:
    assert [r["helo"] for r in ours(EIGHT_BIT)] == [
        "\u201csmart\u201d",
        "caf\u00e9",
        "x\ufffd\ufffdy",
        "caf\u00e9",
    ]
    relay = parse_received("from caf\u00c3\u00a9 (d.example [198.51.100.4]) by c.example")
    assert isinstance(relay, Relay) and relay.helo == "caf\u00e9"


@pytest.mark.integration
@pytest.mark.parametrize("message", [QMAIL_SCANNER, EIGHT_BIT], ids=["qmail-scanner", "8-bit"])
def test_chain_agrees_with_the_installed_spamassassin(message: bytes) -> None:
    assert ours(message) == spamassassin(message)
