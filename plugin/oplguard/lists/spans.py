"""Finding entries by address interval in a loaded list, in bulk (NumPy over the bound columns).

What lets an edit of a 10-million-line list skip parsing the file: the
loaded EntryTable already holds every entry's bounds and line.  Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np
import numpy.typing as npt

from oplguard.ipaddr import Span
from oplguard.lists.entries import Columns

Mask = npt.NDArray[np.bool_]


def find(columns: Columns, span: Span) -> tuple[list[int], int]:
    """Table indexes of the entries spanning exactly ``span``, and how many others contain it."""
    version, first, last = span
    if version == 4:
        firsts, lasts = np.asarray(columns.v4_first), np.asarray(columns.v4_last)
        exact = (firsts == first) & (lasts == last)
        covering = (firsts <= first) & (lasts >= last) & ~exact
        return [_v4_index(columns, int(j)) for j in np.flatnonzero(exact)], int(covering.sum())
    bounds = np.asarray(columns.v6_bounds).reshape(-1, 4)
    starts = _compare(bounds[:, 0], bounds[:, 1], first)
    ends = _compare(bounds[:, 2], bounds[:, 3], last)
    exact = (starts == 0) & (ends == 0)
    covering = (starts <= 0) & (ends >= 0) & ~exact
    indexes = np.asarray(columns.v6_index)
    return [int(indexes[k]) for k in np.flatnonzero(exact)], int(covering.sum())


def _compare(high: npt.NDArray[Any], low: npt.NDArray[Any], value: int) -> npt.NDArray[Any]:
    """-1, 0 or 1 per 128-bit ``high:low`` against ``value``."""
    top, bottom = np.uint64(value >> 64), np.uint64(value & ((1 << 64) - 1))
    less: Mask = (high < top) | ((high == top) & (low < bottom))
    more: Mask = (high > top) | ((high == top) & (low > bottom))
    return more.astype(np.int8) - less.astype(np.int8)


def _v4_index(columns: Columns, position: int) -> int:
    """The table index of the ``position``-th IPv4 entry (IPv6 entries interleave in file order)."""
    index = position
    while True:  # index = position + (IPv6 entries up to index): a fixed point in a few steps
        moved = position + bisect_right(columns.v6_index, index)
        if moved == index:
            return index
        index = moved
