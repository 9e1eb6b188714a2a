"""grafana/oplguard-dashboard.json: valid, well-formed, and every query names real metrics.

The metric names come from scraping a real ``oplguard serve`` (child process)
after some traffic (aiospamc), a reload (SIGHUP) and tracking writes: a panel
that names a metric the service does not expose, or a label it does not
carry, fails here.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiospamc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import config_writer
from tests.integration.harness import free_port, serve_process, wait_listening
from tests.samples import message

pytestmark = pytest.mark.integration
DASHBOARD = Path(__file__).resolve().parents[2] / "grafana" / "oplguard-dashboard.json"
# PromQL functions and aggregations the dashboard may call.
FUNCTIONS = {"sum", "min", "max", "avg", "count", "rate", "irate", "increase",
             "histogram_quantile", "label_values", "topk"}  # fmt: skip
GROUPING = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"
KEYWORDS = {"and", "or", "unless", "bool", "offset"}
# Labels Prometheus adds to every scraped series (or histogram buckets carry).
TARGET_LABELS = {"instance", "job", "le"}
# Grafana's own variables, and the dashboard's.
BUILTIN_VARIABLES = {"__rate_interval", "__range", "__interval"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "summary": ("", "_count", "_sum"),
    "unknown": ("",),
}
SCRAPE_TIMEOUT_S = 30.0
ALLOW = '[[allowed_senders]]\nip = "203.0.113.66"\nscope = "hop"\n'


def dashboard() -> dict[str, object]:
    data: dict[str, object] = json.loads(DASHBOARD.read_text())
    return data


def panels() -> list[dict[str, object]]:
    found = dashboard()["panels"]
    assert isinstance(found, list)
    return found


def queries() -> list[str]:
    return [str(t["expr"]) for p in panels() for t in p.get("targets", [])]  # type: ignore[attr-defined]


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression (strings, matchers, ranges and label lists out).

    Raises:
        AssertionError: it calls a function the dashboard should not need.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(GROUPING, " ", text)
    names = set()
    for found in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word, rest = found.group(), text[found.end() :].lstrip()
        if rest.startswith("("):
            assert word in FUNCTIONS, f"{word}() in {expr}"
        elif word not in KEYWORDS:
            names.add(word)
    return names


def label_names(expr: str) -> set[str]:
    """Labels the expression groups by or matches on."""
    grouped = {name.strip() for group in re.findall(GROUPING, expr) for name in group.split(",")}
    matched = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", expr))
    return (grouped | matched) - {""}


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, set[str]]]:
    """Sample name -> its label names (empty for families without samples yet), from a scrape."""
    tmp_path = tmp_path_factory.mktemp("grafana")
    metrics_port, port = free_port(), free_port()
    config = config_writer(tmp_path)(
        top=f'tracking_db = "sqlite:///{tmp_path / "t.db"}"\n'
        f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n',
        extra=ALLOW,
    )
    proc = serve_process(config, port)
    try:
        wait_listening(port, proc)

        async def send() -> None:
            for name in ("listed-deep.eml", "clean.eml", "listed-connecting.eml"):
                await aiospamc.check(message(name), host="127.0.0.1", port=port)

        asyncio.run(send())
        proc.send_signal(signal.SIGHUP)
        yield scrape(metrics_port, need="oplguard_tracking_records_total")
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def scrape(port: int, need: str) -> dict[str, set[str]]:
    """Scrape until ``need`` has a sample (the tracking writer batches once a second)."""
    deadline = time.monotonic() + SCRAPE_TIMEOUT_S
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        found: dict[str, set[str]] = {}
        for family in text_string_to_metric_families(text):
            for suffix in SUFFIXES[family.type]:
                found.setdefault(family.name + suffix, set())
            for sample in family.samples:
                found.setdefault(sample.name, set()).update(sample.labels)
        if found.get(need) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_dashboard_is_well_formed() -> None:
    data = dashboard()
    assert data["uid"] and data["title"] and isinstance(data["schemaVersion"], int)
    variables = {v["name"] for v in data["templating"]["list"]}  # type: ignore[index]
    assert {"datasource", "instance"} <= variables
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids))
    for panel in panels():
        grid = panel["gridPos"]
        assert isinstance(grid, dict) and all(isinstance(grid[k], int) for k in "xywh")
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        if panel["type"] in ("row", "text"):
            continue
        targets = panel["targets"]
        assert isinstance(targets, list) and targets, panel["title"]
        assert len({t["refId"] for t in targets}) == len(targets)
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in targets:
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= variables | BUILTIN_VARIABLES, (panel["title"], used)
            assert 'instance=~"$instance"' in target["expr"], panel["title"]


def test_panels_do_not_overlap() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in panels():
        grid = panel["gridPos"]
        assert isinstance(grid, dict)
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not cells & mine, panel["title"]
        cells |= mine


def test_every_query_names_metrics_the_service_exposes(exposed: dict[str, set[str]]) -> None:
    assert "oplguard_messages_total" in exposed  # the scrape worked
    for expr in queries():
        names = metric_names(expr)
        assert names, expr
        assert names <= set(exposed), (expr, names - set(exposed))
        known = set().union(*(exposed[name] for name in names)) | TARGET_LABELS
        if all(exposed[name] for name in names):  # every metric has samples: labels are known
            assert label_names(expr) <= known, (expr, label_names(expr) - known)


def test_the_views_of_the_operations_page_are_there() -> None:
    used = set().union(*(metric_names(expr) for expr in queries()))
    assert {"oplguard_messages_total", "oplguard_list_hits_total",
            "oplguard_allow_overrides_total"} <= used  # fmt: skip
    by_hop = [e for e in queries() if "oplguard_list_hits_total" in e and "by (hop)" in e]
    assert by_hop


def test_the_parser_sees_through_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, list) (rate(x_bucket{a="b{c}"}[5m]))) '
        "/ on (instance) y_total"
    )
    assert metric_names(expr) == {"x_bucket", "y_total"}
    assert label_names(expr) == {"le", "list", "a", "instance"}
    with pytest.raises(AssertionError, match="absent"):
        metric_names("absent(x)")
