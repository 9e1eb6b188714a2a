"""A scan cut by a per-message limit says so: symbol OPL_TRUNCATED, REPORT line, one WARNING."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest
from tests.samples import message

from oplguard.config import loader as config_loader
from oplguard.lists.store import ListStore
from oplguard.mail.limits import MAX_REPORT_HITS, TRUNCATED_SYMBOL
from oplguard.policy.report import report_text
from oplguard.policy.scanner import CURRENT_PEER, Scanner
from oplguard.textsafe import printable

LISTED = "203.0.113.66"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    cfg = config_loader.load(config_loader.default_config_path())
    lists = ListStore(cfg.lists)
    lists.load()
    return Scanner(cfg, lists)


def hostile(count: int) -> bytes:
    ips = " ".join(f"198.51.{i >> 8}.{i & 255}" for i in range(1, count))
    return f"X-Originating-IP: {LISTED} {ips}\r\n".encode() + message("clean.eml")


def test_cut_scan_carries_the_symbol_and_logs_once_with_the_peer(
    scanner: Scanner, caplog: pytest.LogCaptureFixture
) -> None:
    async def scan_as_peer() -> object:
        CURRENT_PEER.set("192.0.2.44:51000")
        return await scanner.scan_async(hostile(5_000))

    with caplog.at_level(logging.WARNING, "oplguard.policy"):
        scan = asyncio.run(scan_as_peer())
    verdict = scan.verdict  # type: ignore[attr-defined]
    symbols = {symbol.name: symbol for symbol in verdict.symbols}
    assert symbols[TRUNCATED_SYMBOL].score == 0.0
    assert "MAX_ORIGINATING_IPS_PER_HEADER" in symbols[TRUNCATED_SYMBOL].description
    assert verdict.is_spam  # the listed IP came first: scored on what was examined
    cut_lines = [r for r in caplog.records if r.getMessage().startswith("scan cut")]
    assert len(cut_lines) == 1
    assert "peer=192.0.2.44:51000" in cut_lines[0].getMessage()
    assert cut_lines[0].levelno == logging.WARNING
    lines = report_text(verdict, "mx1").splitlines()
    row = next(line for line in lines if line.startswith(f" 0.0 {TRUNCATED_SYMBOL} "))
    assert "Scanned in part: 1 originating-IP header(s) held more IPs" in row


def test_a_normal_message_has_no_cut(scanner: Scanner) -> None:
    scan = scanner.scan(message("listed-deep.eml"))
    assert TRUNCATED_SYMBOL not in {symbol.name for symbol in scan.verdict.symbols}
    assert scan.chain.cuts == ()


def test_truncated_symbol_score_is_configurable(scanner: Scanner) -> None:
    scoring = replace(
        scanner.config.scoring, scores=(*scanner.config.scoring.scores, (TRUNCATED_SYMBOL, 1.5))
    )
    strict = Scanner(replace(scanner.config, scoring=scoring), scanner.lists)
    plain = scanner.scan(hostile(50)).verdict
    cut = strict.scan(hostile(50)).verdict
    assert cut.score == round(plain.score + 1.5, 3)


def test_report_evidence_is_capped_and_escaped(scanner: Scanner) -> None:
    hops = "".join(
        f"Received: from h{i}.example (h{i}.example [{LISTED}]) by m{i}.example\x1b[2J id {i}\r\n"
        for i in range(1, 60)
    )
    verdict = scanner.scan(hops.encode() + b"Subject: x\r\n\r\nbody").verdict
    text = report_text(verdict, "mx1")
    assert text.count("   Received: ") == 1  # one IP, one hit: evidence once
    assert "\x1b" not in text and "\\x1b[2J" in text
    many = replace(verdict, hits=verdict.hits * 50)
    text = report_text(many, "mx1")
    assert text.count("   Received: ") == MAX_REPORT_HITS
    assert f" ... and {50 - MAX_REPORT_HITS} more hits" in text


def test_printable_escapes_terminal_and_log_controls() -> None:
    assert printable("plain text: ok") == "plain text: ok"
    assert printable("a\x00b\x1b[31m\r\nc\x85\u202ed") == "a\\x00b\\x1b[31m\\x0d\\x0ac\\x85\\u202ed"
