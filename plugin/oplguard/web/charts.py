"""Charts as inline SVG, drawn on the server: no script, no external file, the CSP stays strict.

Pure: numbers in, markup out.  Colours are SVG presentation attributes (the CSP
forbids inline ``style``); every label is escaped.  Each chart is an image with
a short name; the page puts the same numbers in a table for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
# Stacked columns: plot area inside these margins (px of the viewBox).
COLUMNS_HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 30, 30
# At most this many x-axis labels, so they never overlap.
MAX_X_LABELS = 8
# Horizontal bars: one row each, the label column at the left.
ROW_HEIGHT = 24
LABEL_WIDTH = 210
VALUE_WIDTH = 70
# Okabe-Ito colours: told apart with the common colour-vision deficiencies.
PALETTE = ("#D55E00", "#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#F0E442")
BAR_COLOUR = "#0072B2"
AXIS_COLOUR = "#666666"


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked series: its name, a value per column and its colour."""

    name: str
    values: Sequence[int]
    colour: str


def nice_ceiling(value: int) -> int:
    """The axis top: ``value`` rounded up to 1, 2 or 5 times a power of ten (at least 1)."""
    if value <= 1:
        return 1
    power: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _svg(chart_id: str, label: str, height: int, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title">'
        f'<title id="{escape(chart_id)}-title">{escape(label)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")  # every piece is escaped above


def _legend(series: Sequence[Series]) -> list[str]:
    out, x = [], LEFT
    for item in series:
        out.append(
            f'<rect x="{x}" y="8" width="12" height="12" fill="{escape(item.colour)}"/>'
            f'<text x="{x + 16}" y="18" font-size="12">{escape(item.name)}</text>'
        )
        x += 28 + 8 * len(item.name)
    return out


def _y_axis(top: int, plot_h: int, plot_w: int) -> list[str]:
    out = []
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h - fraction * plot_h
        value = top * fraction
        text = f"{value:g}" if value != int(value) else str(int(value))
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
            f'stroke="#dddddd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="{AXIS_COLOUR}">{escape(text)}</text>'
        )
    return out


def stacked_columns(
    chart_id: str, label: str, columns: Sequence[str], series: Sequence[Series]
) -> Markup:
    """One column per entry of ``columns``, each the stack of every series' value there."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, COLUMNS_HEIGHT - TOP - BOTTOM
    totals = [sum(item.values[i] for item in series) for i in range(len(columns))]
    top = nice_ceiling(max(totals, default=0))
    step = plot_w / max(len(columns), 1)
    body = [*_legend(series), *_y_axis(top, plot_h, plot_w)]
    every = max(1, math.ceil(len(columns) / MAX_X_LABELS))
    for i, column in enumerate(columns):
        x, base = LEFT + i * step, float(TOP + plot_h)
        for item in series:
            value = item.values[i]
            if value <= 0:
                continue
            height = value / top * plot_h
            base -= height
            body.append(
                f'<rect class="bar" x="{x + step * 0.1:.1f}" y="{base:.1f}" '
                f'width="{step * 0.8:.1f}" height="{height:.1f}" fill="{escape(item.colour)}" '
                f'data-series="{escape(item.name)}" data-column="{i}" data-value="{value}">'
                f"<title>{escape(column)}: {value} {escape(item.name)}</title></rect>"
            )
        if i % every == 0:
            body.append(
                f'<text x="{x + step / 2:.1f}" y="{COLUMNS_HEIGHT - 10}" font-size="11" '
                f'text-anchor="middle" fill="{AXIS_COLOUR}">{escape(column)}</text>'
            )
    return _svg(chart_id, label, COLUMNS_HEIGHT, body)


def horizontal_bars(
    chart_id: str, label: str, items: Sequence[tuple[str, int]], colour: str = BAR_COLOUR
) -> Markup:
    """One bar per (name, value), longest first as given, the value at its end."""
    height = max(len(items), 1) * ROW_HEIGHT + 8
    top = max((value for _, value in items), default=0) or 1
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    body = []
    for row, (name, value) in enumerate(items):
        y = 4 + row * ROW_HEIGHT
        length = value / top * room
        body.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 16}" font-size="12" '
            f'text-anchor="end">{escape(name)}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" '
            f'height="{ROW_HEIGHT - 6}" fill="{escape(colour)}" data-name="{escape(name)}" '
            f'data-value="{value}"><title>{escape(name)}: {value}</title></rect>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 16}" font-size="12">{value}</text>'
        )
    if not items:
        body.append(f'<text x="{LABEL_WIDTH}" y="20" font-size="12">none in this window</text>')
    return _svg(chart_id, label, height, body)
