"""The benchmark harness's own parts: workload labels, verdict parsing, /proc accounting.

Fast and without servers: the comparison itself runs from ``bench.run``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bench import load, procstat, spamc_driver, workload

IP = re.compile(rb"198\.1[89]\.\d+\.\d+")


def test_labels_match_the_list(tmp_path: Path) -> None:
    work = workload.build(tmp_path, 300, 30_000)
    listed = {line.split()[0] for line in work.opl_path.read_text().splitlines()}
    assert len(listed) == 30_000
    allowed = set(work.allowed)
    for message, label in zip(work.messages, work.labels, strict=True):
        relays = {m.decode() for m in IP.findall(message.split(b"\r\n\r\n")[0])}
        hits = (relays & listed) - allowed
        assert bool(hits) == label, relays
    assert work.expected_spam == sum(work.labels) > 0


def test_chain_length_is_bounded(tmp_path: Path) -> None:
    work = workload.build(tmp_path, 20, 1000, hops=(50, 50))
    assert all(m.count(b"Received: ") == 50 for m in work.messages)


def test_spam_verdict_from_flag_or_score() -> None:
    assert load.is_spam(b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 8.0 / 5.0\r\n\r\n")
    assert not load.is_spam(b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n\r\n")
    # rspamd 3.4's spamc mode: flag False, score above the threshold.
    assert load.is_spam(b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 6.00 / 5.00\r\n\r\nBENCH\r\n")
    with pytest.raises(ConnectionError):
        load.is_spam(b"SPAMD/1.1 0 EX_OK\r\n\r\n")


def test_spamc_check_output() -> None:
    assert spamc_driver.parse_check(b"6.0/5.0\n")
    assert not spamc_driver.parse_check(b"0.0/5.0\n")
    with pytest.raises(ConnectionError):
        spamc_driver.parse_check(b"0/0\n")


def test_process_tree_accounting() -> None:
    assert os.getpid() in procstat.descendants(os.getpid())
    assert procstat.cpu_seconds(os.getpid()) > 0
    memory = procstat.memory(os.getpid())
    assert memory.rss_mb > 1 and memory.pss_mb > 0
