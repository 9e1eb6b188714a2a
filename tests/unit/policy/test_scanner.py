"""How the scanner turns a DNS list's failure into a verdict input (issue 20)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from oplguard.config import loader as config_loader
from oplguard.config.model import DnsblConfig
from oplguard.lists.dnsbl import AnswerStatus, DnsblAnswer
from oplguard.lists.health import UNANSWERED_TO_TRIP, ListHealth
from oplguard.lists.store import ListStore
from oplguard.policy.scanner import Scanner, lookup_failure

CFG = DnsblConfig("opl-dns", "opl.test", on_error="tempfail", error_symbol="OPL_DNS_ERR")
TIMEOUT = DnsblAnswer(AnswerStatus.ERROR, detail="LifetimeTimeout", answered=False)


def test_a_monitor_only_list_neither_scores_nor_defers_its_errors() -> None:
    health = ListHealth("opl-dns")
    health.probe(listed_ok=False, clean_ok=True)
    health.probe(listed_ok=False, clean_ok=True)
    failure = lookup_failure(CFG, health, "192.0.2.10", 2, TIMEOUT)
    assert failure.on_error == "ignore"
    assert "monitor-only, its errors do not count" in failure.detail
    assert "127.0.0.2 not listed" in failure.detail


@pytest.mark.parametrize("unanswered", [0, UNANSWERED_TO_TRIP], ids=["healthy", "unreachable"])
def test_a_list_that_counts_keeps_its_error_policy(unanswered: int) -> None:
    health = ListHealth("opl-dns")
    for _ in range(unanswered):
        health.note_unanswered("Timeout")
    failure = lookup_failure(CFG, health, "192.0.2.10", 2, TIMEOUT)
    assert (failure.on_error, failure.detail, failure.symbol) == (
        "tempfail",
        "LifetimeTimeout",
        "OPL_DNS_ERR",
    )


@pytest.mark.parametrize(
    ("child_timeout_s", "budget_s"), [(300.0, 5.0), (4.0, 2.0)], ids=["default", "short-request"]
)
def test_dns_budget_leaves_the_request_time_to_answer(
    child_timeout_s: float, budget_s: float
) -> None:
    cfg = config_loader.load(config_loader.default_config_path())
    cfg = replace(cfg, server=replace(cfg.server, child_timeout_s=child_timeout_s))
    lists = ListStore(cfg.lists)
    assert Scanner(cfg, lists).dns_budget_s == budget_s
