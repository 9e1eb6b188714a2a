"""The operations page over the real server: access, numbers, charts, filters, strict CSP."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from tests.integration.web_harness import ADMIN_TOKEN
from tests.unit.tracking.test_summary import rec
from tests.unit.web.conftest import MakeClient
from tests.unit.web.test_pages import file_removal

from oplguard.tracking.store import TrackingStore

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ALLOW = """
[[allowed_senders]]
ip = "198.51.100.0/24"
scope = "hop"
comment = "partner relay, ticket 4711"

[[allowed_senders]]
ip = "192.0.2.200"
comment = "never used"
"""


def fill(tmp_path: Path) -> None:
    """The web config's store (web_harness: tmp_path/oplguard.db) with a few verdicts."""
    now = time.time()
    deep = ("203.0.113.66", 3, "listed:opl")
    store = TrackingStore.open(str(tmp_path / "oplguard.db"))
    store.insert(
        [
            rec(now - 60, "delete", "mx1", ("203.0.113.66", 3, "opl"), (deep,)),
            rec(now - 50, "delete", "mx1", ("203.0.113.66", 3, "opl"), (deep,)),
            rec(
                now - 40,
                "reject",
                "mx2",
                ("192.0.2.99", 1, "opl"),
                (("192.0.2.99", 1, "listed:opl"),),
            ),
            rec(now - 30, "pass", "mx2", ips=(("198.51.100.7", 2, "allowed:198.51.100.0/24"),)),
            rec(now - 100 * 86400, "delete", "mx1", ("203.0.113.9", 2, "opl")),  # long ago
        ]
    )
    store.close()


@pytest.fixture
def ops_client(make_client: MakeClient, tmp_path: Path) -> httpx.Client:
    fill(tmp_path)
    return make_client(web=f"\n{ALLOW}")


def test_needs_the_admin_token(make_client: MakeClient) -> None:
    client = make_client()
    assert client.get("/admin/ops").status_code == 303
    assert client.get("/admin/ops").headers["location"] == "/admin"
    wrong = client.get("/admin/ops", headers={"Authorization": "Bearer guess-guess-guess"})
    assert wrong.status_code == 303


def test_off_without_an_admin_token(make_client: MakeClient) -> None:
    client = make_client(admin_token="")
    assert client.get("/admin/ops", headers=BEARER).status_code == 404


def test_numbers_charts_and_tables(ops_client: httpx.Client) -> None:
    page = ops_client.get("/admin/ops", headers=BEARER)
    text = page.text
    assert page.status_code == 200
    assert "4 message(s)" in text  # the one 100 days ago is outside the 24h window
    table = section(text, "table-ips")
    assert re.search(r"203\.0\.113\.66</th><td>2</td>", table)
    assert re.search(r"192\.0\.2\.99</th><td>1</td>", table)
    assert "203.0.113.9" not in text
    assert re.search(r"<th scope=\"row\">opl</th><td>3</td>", section(text, "table-lists"))
    hops = section(text, "table-hops")
    assert '<th scope="row">3</th><td>2</td>' in hops and '<th scope="row">1</th><td>1</td>' in hops
    overrides = section(text, "table-overrides")
    assert re.search(r'data-network="198\.51\.100\.0/24">.*?class="used">1<', overrides)
    assert re.search(r'data-network="192\.0\.2\.200">.*?class="used">0<', overrides)
    assert "partner relay, ticket 4711" in overrides
    assert text.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 4
    bars = re.findall(r'data-series="(\w+)" data-column="\d+" data-value="(\d+)"', text)
    per_action: dict[str, int] = {}
    for action, value in bars:  # the two deletes may share a 1-hour column or not
        per_action[action] = per_action.get(action, 0) + int(value)
    assert per_action == {"delete": 2, "pass": 1, "reject": 1}


def test_stays_within_the_strict_csp(ops_client: httpx.Client) -> None:
    page = ops_client.get("/admin/ops", headers=BEARER)
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    text = page.text
    assert "<script" not in text and " style=" not in text and "<style" not in text
    assert re.findall(r"https?://[^\"' ]+", text) == ["http://www.w3.org/2000/svg"] * 4


def test_host_filter(ops_client: httpx.Client) -> None:
    text = ops_client.get("/admin/ops", params={"host": "mx2"}, headers=BEARER).text
    assert "2 message(s) from <strong>mx2</strong>" in text
    assert "203.0.113.66" not in section(text, "table-ips")
    assert '<option value="mx1">mx1 (2)</option>' in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window": "2h"}, "window must be one of"),
        ({"host": "x" * 300}, "host must be a printable name"),
        ({"host": "mx\x1b[2J"}, "host must be a printable name"),
    ],
    ids=["unknown-window", "long-host", "control-chars"],
)
def test_bad_filters_are_refused(
    ops_client: httpx.Client, params: dict[str, str], message: str
) -> None:
    page = ops_client.get("/admin/ops", params=params, headers=BEARER)
    assert page.status_code == 400 and message in page.text


def test_every_window_renders(ops_client: httpx.Client) -> None:
    columns = {"1h": "5 minutes", "6h": "15 minutes", "24h": "hour", "7d": "6 hours", "30d": "day"}
    for window, bucket in columns.items():
        page = ops_client.get("/admin/ops", params={"window": window}, headers=BEARER)
        assert page.status_code == 200, window
        assert f'<option value="{window}" selected>' in page.text
        assert f"Messages per {bucket} (UTC)" in page.text


def test_pending_removal_requests_are_shown(ops_client: httpx.Client) -> None:
    location = file_removal(ops_client).headers["location"]
    request_id = location.split("/")[2].split("?")[0]
    text = section(ops_client.get("/admin/ops", headers=BEARER).text, "table-pending")
    assert f"<code>{request_id}</code>" in text and "192.0.2.99" in text


def section(text: str, table_id: str) -> str:
    found = re.search(rf'<table[^>]*id="{table_id}">(.*?)</table>', text, re.S)
    assert found is not None, table_id
    return found.group(1)
