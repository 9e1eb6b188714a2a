"""Tracking records mark the hits of a monitor-only list (issue 20)."""

from __future__ import annotations

from dataclasses import replace

from tests.samples import message

from oplguard.config import loader as config_loader
from oplguard.lists.store import ListStore
from oplguard.policy.scanner import Scanner
from oplguard.tracking.record import build_record


def test_monitor_only_hit_is_marked_in_the_record() -> None:
    cfg = config_loader.load(config_loader.default_config_path())
    lists = ListStore(cfg.lists)
    lists.load()
    body = message("listed-deep.eml")
    scan = Scanner(cfg, lists).scan(body)
    hits = tuple(replace(hit, score=0.0, monitor_only=True) for hit in scan.verdict.hits)
    scan = replace(scan, verdict=replace(scan.verdict, hits=hits))
    built = build_record(scan, "m1", "mx1", "")
    # A monitor-only hit is listed, not counted (issue 17's words), never "clean".
    assert {"ip": "203.0.113.66", "hop": 3, "result": "not counted:opl (monitor-only)"} in (
        built.detail()["checked"]
    )
    assert all(hit["monitor_only"] for hit in built.detail()["hits"])
