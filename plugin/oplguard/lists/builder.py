"""TableBuilder: collects one EntryTable's entries while a list file loads.

Entries arrive chunk by chunk: bulk-read ones as arrays, exactly parsed ones
one at a time; ``flush`` merges both by line number so the table stays in file
order.  ``finish`` turns the columns into the compact EntryTable.  Pure.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from oplguard.ipaddr import Span
from oplguard.lists.entries import Columns, EntryTable, Meta, Runs, Sparse
from oplguard.lists.flatten import view

_LOW64 = (1 << 64) - 1
Array = npt.NDArray[Any]
Family = tuple[Array, Array]
"""Entries of one IP family: line numbers, and bounds (n, 2) uint32 or (n, 4) uint64."""
NONE4: Family = (np.zeros(0, dtype=np.uint32), np.zeros((0, 2), dtype=np.uint32))
NONE6: Family = (np.zeros(0, dtype=np.uint32), np.zeros((0, 4), dtype=np.uint64))
# version -> (bound columns, dtype, array typecode)
_SPENT = np.zeros(0, dtype=np.uint32)
# Work on big columns this many items at a time, to keep temporaries small.
BLOCK = 1 << 20
_LAYOUT: dict[int, tuple[int, type, str]] = {4: (2, np.uint32, "I"), 6: (4, np.uint64, "Q")}


@dataclass
class Built:
    """A finished table with the columns its NetworkSet is built from."""

    table: EntryTable
    first4: Array
    last4: Array
    index4: Array  # table index of each IPv4 entry
    bounds6: Array  # (n, 4): first hi, first lo, last hi, last lo
    index6: Array


def _pending() -> dict[int, tuple[array[int], array[int]]]:
    return {4: (array("I"), array("I")), 6: (array("I"), array("Q"))}


@dataclass
class TableBuilder:
    """One table's entries while a list loads, in file order."""

    is_exclusion: bool
    done: dict[int, list[list[Array]]] = field(default_factory=lambda: {4: [], 6: []})
    pending: dict[int, tuple[array[int], array[int]]] = field(default_factory=_pending)
    meta_lines: array[int] = field(default_factory=lambda: array("I"))
    meta_ids: array[int] = field(default_factory=lambda: array("I"))
    metas: dict[Meta, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=lambda: {"": 0})
    default_lines: array[int] = field(default_factory=lambda: array("I", [0]))
    default_ids: array[int] = field(default_factory=lambda: array("I", [0]))

    def set_default(self, line: int, reason: str) -> None:
        """From ``line`` on, an entry without a reason of its own gets ``reason``."""
        reason_id = self.reasons.setdefault(reason, len(self.reasons))
        if reason_id != self.default_ids[-1]:
            self.default_lines.append(line)
            self.default_ids.append(reason_id)

    def meta_id(self, meta: Meta) -> int:
        return self.metas.setdefault(meta, len(self.metas))

    def add_metas(self, lines: Array, ids: Array) -> None:
        """Entries on ``lines`` say ``metas[ids]`` (reason, since, expires)."""
        self.meta_lines.frombytes(lines.astype(np.uint32).tobytes())
        self.meta_ids.frombytes(ids.astype(np.uint32).tobytes())

    def add(self, line: int, span: Span, meta: Meta | None) -> None:
        """One entry read by the exact parser; ``meta`` when it differs from the default."""
        version, first, last = span
        lines, bounds = self.pending[version]
        lines.append(line)
        if version == 4:
            bounds.extend((first, last))
        else:
            bounds.extend((first >> 64, first & _LOW64, last >> 64, last & _LOW64))
        if meta is not None:
            self.meta_lines.append(line)
            self.meta_ids.append(self.meta_id(meta))

    def flush(self, v4: Family = NONE4, v6: Family = NONE6) -> None:
        """End a chunk: its bulk-read entries join the ones read line by line."""
        for version, (lines, bounds) in ((4, v4), (6, v6)):
            waiting, values = self.pending[version]
            if waiting:
                width, kind, code = _LAYOUT[version]
                lines = np.concatenate((lines, np.frombuffer(waiting, dtype=np.uint32)))
                extra: Array = np.frombuffer(values, dtype=kind).reshape(-1, width)
                bounds = np.concatenate((bounds, extra))
                order = np.argsort(lines, kind="stable")
                lines, bounds = lines[order], bounds[order]
                self.pending[version] = (array("I"), array(code))
            if len(lines) and version == 4:  # separate columns: joined one by one
                self.done[4].append([lines, bounds[:, :1].copy(), bounds[:, 1:].copy()])
            elif len(lines):
                self.done[6].append([lines, bounds])

    def finish(self) -> Built:
        """The EntryTable; the builder is spent.  Columns are joined one at a time."""
        parts4, parts6 = self.done.pop(4), self.done.pop(6)
        lines4, lines6 = _column(parts4, 0, (0,)), _column(parts6, 0, (0,))
        first4, last4 = _column(parts4, 1, (0, 1))[:, 0], _column(parts4, 2, (0, 1))[:, 0]
        bounds6 = _column(parts6, 1, (0, 4), np.uint64)
        # Table index = file order across both families.
        index4, index6 = _after(lines4, lines6), _after(lines6, lines4)
        lines = np.empty(len(lines4) + len(lines6), dtype=np.uint32)
        lines[index4], lines[index6] = lines4, lines6
        del lines4, lines6
        meta_lines = np.frombuffer(self.meta_lines, dtype=np.uint32)
        by_line = np.argsort(meta_lines, kind="stable")  # bulk and exact reads interleave
        meta_at = np.searchsorted(lines, meta_lines[by_line])
        meta_ids = np.frombuffer(self.meta_ids, dtype=np.uint32)[by_line]
        del meta_lines, by_line
        offsets = lines  # line = index + offset, computed in place
        for start in range(0, len(offsets), BLOCK):
            stop = min(start + BLOCK, len(offsets))
            offsets[start:stop] -= np.arange(start, stop, dtype=np.uint32)
        steps = np.flatnonzero(offsets[1:] != offsets[:-1]) + 1
        steps = np.concatenate((np.zeros(min(len(offsets), 1), dtype=steps.dtype), steps))
        columns = Columns(view(first4), view(last4), view(index6), view(bounds6, "Q"))
        table = EntryTable(
            columns,
            Runs(view(steps), view(offsets[steps])),
            Runs(view(_u32(self.default_lines)), view(_u32(self.default_ids))),
            Sparse(view(meta_at), view(meta_ids)),
            tuple(self.reasons),
            tuple(self.metas),
            self.is_exclusion,
        )
        return Built(table, first4, last4, index4, bounds6, index6)


def _u32(column: array[int]) -> Array:
    return np.frombuffer(column, dtype=np.uint32)


def _column(
    parts: list[list[Array]], k: int, shape: tuple[int, ...], kind: type = np.uint32
) -> Array:
    """Column ``k`` of every part, joined; each part lets go of it at once."""
    if not parts:
        return np.zeros(shape, dtype=kind)
    joined = np.concatenate([part[k] for part in parts])
    for part in parts:
        part[k] = _SPENT
    return joined


def _after(mine: Array, other: Array) -> Array:
    """Index of each of ``mine`` among both (sorted, disjoint) line columns."""
    index = np.arange(len(mine), dtype=np.uint32)
    if len(other):
        for start in range(0, len(mine), BLOCK):
            block = mine[start : start + BLOCK]
            index[start : start + BLOCK] += np.searchsorted(other, block).astype(np.uint32)
    return index
