"""Server-side SVG charts: proportions, escaping, the empty case."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from oplguard.web.charts import Series, horizontal_bars, nice_ceiling, stacked_columns

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (499, 500), (501, 1000)],
)
def test_axis_tops(value: int, top: int) -> None:
    assert nice_ceiling(value) == top


def test_stacked_columns_are_proportional_and_stacked() -> None:
    chart = stacked_columns(
        "c",
        "Verdicts",
        ["00:00", "00:05"],
        [Series("delete", [4, 0], "#111111"), Series("pass", [6, 10], "#222222")],
    )
    root = ET.fromstring(str(chart))
    bars = {
        (rect.get("data-series"), rect.get("data-column")): rect
        for rect in root.iter(f"{SVG}rect")
        if rect.get("class") == "bar"
    }
    assert set(bars) == {("delete", "0"), ("pass", "0"), ("pass", "1")}  # a zero draws nothing
    height = {key: float(rect.get("height", "0")) for key, rect in bars.items()}
    assert height[("pass", "1")] == pytest.approx(height[("delete", "0")] + height[("pass", "0")])
    assert height[("pass", "0")] == pytest.approx(1.5 * height[("delete", "0")])
    # pass sits on top of delete in column 0
    assert float(bars[("pass", "0")].get("y", "0")) + height[("pass", "0")] == pytest.approx(
        float(bars[("delete", "0")].get("y", "0"))
    )
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == "Verdicts"  # type: ignore[union-attr]


def test_labels_are_escaped() -> None:
    hostile = '<script>alert(1)</script>"&'
    chart = str(horizontal_bars("h", hostile, [(hostile, 3)]))
    assert "<script>" not in chart
    root = ET.fromstring(chart)  # still well-formed XML
    texts = [node.text for node in root.iter(f"{SVG}text")]
    assert hostile in texts
    bar = next(rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar")
    assert bar.get("data-name") == hostile and bar.get("data-value") == "3"


def test_empty_bars_say_so() -> None:
    chart = str(horizontal_bars("h", "Hits", []))
    assert "none in this window" in chart and 'class="bar"' not in chart
    assert re.search(r'height="32"', chart)
