"""Flatten overlapping list entries into disjoint intervals, each with its best entry.

Best = fewest addresses; on a tie an exclusion wins, then the earlier entry.
NumPy does entries that overlap nothing and runs of nested CIDR blocks in
bulk; only runs with crossing ranges go through a heap sweep.  Pure.
"""

from __future__ import annotations

import heapq
import itertools
from array import array
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

# Payload of an exclusion entry (rbldnsd "!") in uint32 payload columns: it
# carves a hole, never matches.  Real payloads are entry indexes below it.
HOLE = 0xFFFFFFFF
# Work on big columns this many items at a time, to keep temporaries small.
BLOCK = 1 << 20
Array = npt.NDArray[Any]  # one column: uint32 (IPv4, payloads) or uint64 (ranks)
U64 = npt.NDArray[np.uint64]


class Flat(NamedTuple):
    """Disjoint intervals in address order: ``starts[i]..ends[i]`` answers ``payloads[i]``."""

    starts: Array
    ends: Array
    payloads: Array


def flatten(
    first: Array,
    last: Array,
    payloads: Array,
    sizes: Array | None = None,
    blocks: Array | None = None,
) -> Flat:
    """Flatten inclusive intervals ``first..last`` (any order, any overlap).

    ``first``/``last`` are order keys: the addresses themselves, or ranks that
    keep order and adjacency (IPv6).  When the keys are ranks, ``sizes`` orders
    entries by specificity and ``blocks`` tells which are CIDR blocks (default:
    both read from the keys).  Exclusions (payload HOLE) leave holes.
    """
    if len(first) == 0:
        return Flat(first, last, payloads)
    if bool(np.all(first[1:] >= first[:-1])):  # published lists are often sorted
        order: Array = np.arange(len(first), dtype=np.uint32)
        firsts, lasts, pays = first, last, payloads
        owned = False  # the caller's columns: never written to
    else:
        firsts, order = _sort(first)
        lasts, pays = last[order], payloads[order]
        owned = True
    # A run of overlapping entries starts where no earlier entry reaches.
    fresh = _fresh(firsts, lasts)
    alone = fresh[:-1] & fresh[1:]
    keep = alone & (pays != HOLE)
    crowd = np.flatnonzero(~alone)
    run = np.cumsum(fresh[:-1], dtype=np.uint32)[crowd]
    del fresh, alone
    if len(crowd) == 0 and bool(keep.all()):
        return Flat(firsts, lasts, pays)
    block = _blocks(firsts[crowd], lasts[crowd]) if blocks is None else blocks[order[crowd]]
    # CIDR blocks nest or stay apart; a run with any other range is tangled.
    tangled = np.isin(run, run[~block])
    nested, mixed = crowd[~tangled], crowd[tangled]
    del block, crowd
    size = (lasts[mixed] - firsts[mixed]) if sizes is None else sizes[order[mixed]]
    pieces = [_sweep(firsts[mixed], lasts[mixed], pays[mixed], size, order[mixed])]
    for start, stop in _batches(run[~tangled], BLOCK):  # bounded memory, run by run
        part = nested[start:stop]
        pieces.append(_nested(firsts[part], lasts[part], pays[part], order[part]))
    del nested, mixed, size, order, run, tangled
    singles = Flat(*(_compact(column, keep, owned) for column in (firsts, lasts, pays)))
    del firsts, lasts, pays, keep
    return _merge(singles, pieces)


def _sort(keys: Array) -> tuple[Array, Array]:
    """(sorted keys, the order that sorts them); equal keys keep their order.

    Sorts ``key << 32 | index`` in one uint64 column: less memory than an
    argsort and three gathers (keys are below 2**32: IPv4 or ranks).
    """
    packed = keys.astype(np.uint64) << np.uint64(32)
    packed |= np.arange(len(keys), dtype=np.uint64)
    packed.sort()
    order = packed.astype(np.uint32)  # the low half: the index
    packed >>= np.uint64(32)
    return packed.astype(keys.dtype), order


def _fresh(firsts: Array, lasts: Array) -> Array:
    """fresh[i]: no entry before i reaches firsts[i]; fresh[n] = True (blockwise running max)."""
    fresh = np.ones(len(firsts) + 1, dtype=bool)
    reach = 0
    for start in range(0, len(firsts), BLOCK):
        running = np.maximum.accumulate(lasts[start : start + BLOCK])
        np.maximum(running, reach, out=running)
        stop = min(start + BLOCK, len(firsts))
        if start:
            fresh[start] = firsts[start] > reach
        np.greater(firsts[start + 1 : stop], running[:-1], out=fresh[start + 1 : stop])
        reach = int(running[-1])
    return fresh


def _compact(column: Array, keep: Array, owned: bool) -> Array:
    """``column[keep]``; when ``owned``, written over ``column`` a block at a time (no copy)."""
    if not owned:
        return column[keep]
    size = 0
    for start in range(0, len(column), BLOCK):
        kept = column[start : start + BLOCK][keep[start : start + BLOCK]]
        column[size : size + len(kept)] = kept
        size += len(kept)
    return column[:size].copy() if size < len(column) // 2 else column[:size]


def _merge(singles: Flat, pieces: list[Flat]) -> Flat:
    """Lone entries (in order) and the flattened runs (apart from them), in address order.

    Written block by block: a whole-column ``np.insert`` would hold index
    arrays as big as the list on top of both copies.
    """
    starts = np.concatenate([piece.starts for piece in pieces]).astype(singles.starts.dtype)
    if len(starts) == 0:
        return singles
    ends = np.concatenate([piece.ends for piece in pieces]).astype(singles.ends.dtype)
    payloads = np.concatenate([piece.payloads for piece in pieces])
    by_start = np.argsort(starts, kind="stable")
    added = Flat(starts[by_start], ends[by_start], payloads[by_start])
    del starts, ends, payloads, by_start
    at = np.searchsorted(singles.starts, added.starts) + np.arange(len(added.starts))
    total = len(singles.starts) + len(at)
    merged = Flat(*(np.empty(total, dtype=column.dtype) for column in singles))
    is_added = np.zeros(total, dtype=bool)
    is_added[at] = True
    taken = 0
    for start in range(0, total, BLOCK):
        lone = ~is_added[start : start + BLOCK]
        count = int(lone.sum())
        for out, column in zip(merged, singles, strict=True):
            out[start : start + BLOCK][lone] = column[taken : taken + count]
        taken += count
    for out, column in zip(merged, added, strict=True):
        out[at] = column
    return merged


def _blocks(first: Array, last: Array) -> Array:
    """Which intervals are CIDR blocks (a power of two long, aligned to it)."""
    size = (last - first).astype(np.uint64)
    found: Array = ((size & (size + np.uint64(1))) == 0) & ((first & size) == 0)
    return found


def _nested(first: Array, last: Array, payloads: Array, index: Array) -> Flat:
    """Flatten entries that nest or stay apart (never cross), all at once.

    Each address takes the innermost entry covering it: walking the starts and
    ends as brackets, that is the open bracket on top of the stack, which is
    the latest opened one at the current depth.
    """
    if len(first) == 0:
        return Flat(first, last, payloads)
    order = np.lexsort((index, payloads != HOLE, ~last, first))  # outer first, best first
    first, last, payloads = first[order], last[order], payloads[order]
    del order
    same = np.zeros(len(first), dtype=bool)
    same[1:] = (first[1:] == first[:-1]) & (last[1:] == last[:-1])
    first, last, payloads = first[~same], last[~same], payloads[~same]  # the best of equals
    del same
    n = len(first)
    entry = np.arange(n, dtype=np.int32)
    # Events: an open at first, a close after last; at one place closes come
    # first (inner first), then opens (outer first).
    place = np.concatenate((first.astype(np.uint64), last.astype(np.uint64) + np.uint64(1)))
    is_open = np.concatenate((np.ones(n, dtype=bool), np.zeros(n, dtype=bool)))
    tie = np.concatenate((entry, n - entry))
    events = np.lexsort((tie, is_open, place)).astype(np.int32)
    del tie
    place, is_open = place[events], is_open[events]
    owner_of = np.concatenate((entry, entry))[events]
    del events, entry
    depth = np.cumsum(np.where(is_open, 1, -1).astype(np.int32), dtype=np.int32)
    # The latest open at each depth: opens grouped by depth, in event order.
    opens = np.flatnonzero(is_open).astype(np.int32)
    opens = opens[np.argsort(depth[opens], kind="stable")]
    span = np.int64(2 * n + 1)
    keys = depth[opens].astype(np.int64) * span + opens
    found = np.searchsorted(keys, depth.astype(np.int64) * span + np.arange(2 * n), side="right")
    del keys
    owner = np.where(depth > 0, owner_of[opens[np.maximum(found - 1, 0)]], -1)
    del found, opens, owner_of, depth, is_open
    # The owner after the last event at a place holds until the next place.
    final = np.ones(2 * n, dtype=bool)
    final[:-1] = place[1:] != place[:-1]
    starts, owner = place[final], owner[final]
    del place, final
    answer = np.where(owner >= 0, payloads[np.maximum(owner, 0)], HOLE).astype(np.uint32)
    joined = np.ones(len(answer), dtype=bool)  # adjacent pieces of one payload join
    joined[1:] = answer[1:] != answer[:-1]
    heads = np.flatnonzero(joined)
    ends = np.append(starts[heads[1:]] - np.uint64(1), starts[-1])
    starts, answer = starts[heads], answer[heads]
    listed = answer != HOLE
    return Flat(starts[listed], ends[listed], answer[listed])


def _batches(run: Array, size: int) -> list[tuple[int, int]]:
    """Cut sorted run ids into slices of about ``size`` items, never inside a run."""
    cuts = [0]
    while cuts[-1] < len(run):
        at = min(cuts[-1] + size, len(run))
        if at < len(run):
            at = int(np.searchsorted(run, run[at], side="right"))  # finish that run
        cuts.append(at)
    return list(itertools.pairwise(cuts))


def _sweep(first: Array, last: Array, payloads: Array, sizes: Array, index: Array) -> Flat:
    """Sweep sorted, overlapping entries; a heap keyed by specificity holds the covering ones."""
    out: tuple[list[int], list[int], list[int]] = ([], [], [])
    heap: list[tuple[int, int, int, int, int]] = []  # size, rank, index, last, payload
    pos = 0  # first key not yet emitted
    rows = zip(
        first.tolist(),
        last.tolist(),
        payloads.tolist(),
        sizes.tolist(),
        index.tolist(),
        strict=True,
    )
    for start, end, payload, size, order in rows:
        _advance(heap, pos, start, out)
        pos = start
        heapq.heappush(heap, (size, payload != HOLE, order, end, payload))
    _advance(heap, pos, 1 << 64, out)
    return Flat(
        np.array(out[0], dtype=first.dtype),
        np.array(out[1], dtype=first.dtype),
        np.array(out[2], dtype=np.uint32),
    )


def _advance(
    heap: list[tuple[int, int, int, int, int]],
    pos: int,
    until: int,
    out: tuple[list[int], list[int], list[int]],
) -> None:
    """Emit what the best covering entries answer from ``pos`` to below ``until``."""
    while heap:
        last, payload = heap[0][3], heap[0][4]
        if last < pos:
            heapq.heappop(heap)  # ended under a more specific entry
        elif last < until:
            _emit(out, pos, last, payload)
            pos = last + 1
            heapq.heappop(heap)
        else:
            if pos < until:
                _emit(out, pos, until - 1, payload)
            return


def _emit(out: tuple[list[int], list[int], list[int]], first: int, last: int, payload: int) -> None:
    if payload == HOLE:
        return
    starts, ends, payloads = out
    if ends and ends[-1] + 1 == first and payloads[-1] == payload:
        ends[-1] = last  # adjacent pieces of one entry join again
        return
    starts.append(first)
    ends.append(last)
    payloads.append(payload)


def view(column: Array, code: Literal["I", "Q"] = "I") -> memoryview:
    """A read-only memoryview of ``column`` as uint32 ("I") or uint64 ("Q").

    ``bisect`` and indexing on it give plain ints, at C speed, without a copy.
    """
    data = np.ascontiguousarray(column, dtype=np.uint32 if code == "I" else np.uint64)
    if data.size == 0:
        return memoryview(array(code))
    data.flags.writeable = False
    return data.data.cast("B").cast(code)


def split128(values: Sequence[int]) -> tuple[U64, U64]:
    """128-bit integers as (high, low) 64-bit halves."""
    mask = (1 << 64) - 1
    return (
        np.fromiter((v >> 64 for v in values), dtype=np.uint64, count=len(values)),
        np.fromiter((v & mask for v in values), dtype=np.uint64, count=len(values)),
    )


def flatten128(
    first_hi: U64, first_lo: U64, last_hi: U64, last_lo: U64, payloads: Array
) -> tuple[U64, U64, U64, U64, Array]:
    """``flatten`` for 128-bit bounds (IPv6), as (start hi, lo, end hi, lo, payloads).

    The bounds become ranks among all boundaries ``first`` and ``last + 1``:
    rank ``k`` stands for the addresses from boundary k to boundary k+1 - 1,
    so order, overlap and adjacency are kept and the result maps back exactly.
    """
    n = len(payloads)
    one = np.uint64(1)
    end_lo = last_lo + one  # last + 1, carried; all-ones + 1 = 2**128 sorts last
    end_hi = last_hi + (end_lo == 0).astype(np.uint64)
    top = np.zeros(2 * n, dtype=bool)
    top[n:] = (end_lo == 0) & (end_hi == 0)
    hi, lo = np.concatenate((first_hi, end_hi)), np.concatenate((first_lo, end_lo))
    order = np.lexsort((lo, hi, top))
    fresh = np.ones(2 * n, dtype=bool)
    if n:
        fresh[1:] = (np.diff(hi[order]) != 0) | (np.diff(lo[order]) != 0) | np.diff(top[order])
    rank = np.empty(2 * n, dtype=np.uint64)
    rank[order] = np.cumsum(fresh) - 1
    bound_hi, bound_lo = hi[order][fresh], lo[order][fresh]
    size_lo = last_lo - first_lo
    size_hi = last_hi - first_hi - (last_lo < first_lo).astype(np.uint64)
    by_size = np.lexsort((size_lo, size_hi))
    size_rank = np.empty(n, dtype=np.uint64)
    # Equal sizes must tie: give them the same rank.
    same = np.zeros(n, dtype=bool)
    if n:
        same[1:] = (np.diff(size_hi[by_size]) == 0) & (np.diff(size_lo[by_size]) == 0)
    size_rank[by_size] = np.arange(n, dtype=np.uint64) - _run_offset(same)
    blocks = _blocks128(first_hi, first_lo, size_hi, size_lo)
    flat = flatten(rank[:n], rank[n:] - one, payloads, size_rank, blocks)
    ends = flat.ends.astype(np.int64) + 1  # boundary after the end, minus one address
    end_hi, end_lo = bound_hi[ends], bound_lo[ends]
    borrow = (end_lo == 0).astype(np.uint64)
    return (
        bound_hi[flat.starts.astype(np.int64)],
        bound_lo[flat.starts.astype(np.int64)],
        end_hi - borrow,
        end_lo - one,
        flat.payloads,
    )


def _blocks128(first_hi: U64, first_lo: U64, size_hi: U64, size_lo: U64) -> Array:
    """``_blocks`` for 128-bit intervals given as first and size (last - first)."""
    next_lo = size_lo + np.uint64(1)
    next_hi = size_hi + (next_lo == 0).astype(np.uint64)
    power = ((size_hi & next_hi) == 0) & ((size_lo & next_lo) == 0)
    found: Array = power & ((first_hi & size_hi) == 0) & ((first_lo & size_lo) == 0)
    return found


def _run_offset(same: npt.NDArray[np.bool_]) -> U64:
    """For each position, how far back its run of equal values started."""
    index = np.arange(len(same), dtype=np.uint64)
    head = np.where(same, np.uint64(0), index)
    return index - np.maximum.accumulate(head)
