"""``oplguard explain`` marks monitor-only hits and lists DNS lookup errors (issue 20)."""

from __future__ import annotations

from dataclasses import replace

from tests.samples import message

from oplguard.config import loader as config_loader
from oplguard.lists.store import ListStore
from oplguard.policy.explain import explain_text
from oplguard.policy.scanner import Scanner
from oplguard.policy.verdict import LookupFailure


def test_explain_marks_monitor_only_hits_and_lists_errors() -> None:
    cfg = config_loader.load(config_loader.default_config_path())
    lists = ListStore(cfg.lists)
    lists.load()
    scan = Scanner(cfg, lists).scan(message("listed-deep.eml"))
    hits = tuple(replace(hit, score=0.0, monitor_only=True) for hit in scan.verdict.hits)
    failure = LookupFailure("opl-dns", "203.0.113.66", 3, "LifetimeTimeout", "score", "X")
    verdict = replace(scan.verdict, hits=hits, failures=(failure,))
    text = explain_text(replace(scan, verdict=verdict))
    assert "HIT OPL_RELAY (+0.0) [monitor-only, not counted]: " in text
    assert "LIST ERROR opl-dns for 203.0.113.66 at hop 3 (on_error=score): LifetimeTimeout" in text
