"""Bulk parsing of IPv6 ``address/len`` first words, a chunk of lines at once.

Like ``bulk`` for IPv4: works on runs of hex digits in the whole chunk.  A
word is taken only when ``ipaddr.parse_span`` would read it the same way (8 groups,
or fewer around one ``::``; no IPv4-mapped or dotted forms, no zone id, no host
bits); anything else is left to the exact parser.  Pure: arrays in and out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
_COLON, _SLASH, _ZERO = (ord(c) for c in ":/0")
_HEX = np.full(256, 255, dtype=np.uint8)
for _digit, _char in enumerate("0123456789abcdef"):
    _HEX[ord(_char)] = _HEX[ord(_char.upper())] = _digit
GROUPS = 8  # hextets in an address
IP6TSET_BITS = 64  # rbldnsd ip6tset entries are /64s
_BITS = 128
# ::ffff:0:0/96 holds IPv4-mapped addresses, which lists read as IPv4.
MAPPED_V4 = 0xFFFF


def ipv6_words(
    data: Array, starts: Array, words: Array, ip6tset: bool = False
) -> tuple[Array, Array]:
    """(ok, bounds) of the words ``data[starts:words]``; bounds is (n, 4) uint64.

    ``data`` is the chunk (uint8, ending with LF); ``ok`` is false for every
    word the exact parser must read.  ``ip6tset``: words as rbldnsd's ip6tset
    reads them (``ipset.ip6tset_span``): four groups alone mean a /64, and only
    /64s are taken.
    """
    hexval = _HEX[data]
    is_hex = hexval < 16
    is_colon = data == _COLON
    slashes = np.flatnonzero(data == _SLASH)
    slash = _next(slashes, starts, len(data))
    has_slash = slash < words
    ok = _next(slashes, slash + 1, len(data)) >= words  # at most one "/"
    if not ip6tset:
        ok &= has_slash
    end = np.where(has_slash, slash, words)  # where the address ends
    other = _counts(~is_hex & ~is_colon)
    ok &= (end > starts) & (other[end] == other[starts])  # hex digits and colons only
    bits, ok_bits = _prefix(data, end + 1, words)
    bits = np.where(has_slash, bits, IP6TSET_BITS)
    ok &= ok_bits | ~has_slash
    pairs = np.flatnonzero(is_colon[:-1] & is_colon[1:])  # "::" (":::" counts twice)
    first_pair = _next(pairs, starts, len(data))
    count = np.searchsorted(pairs, end - 1) - np.searchsorted(pairs, starts)
    ok &= count <= 1
    ok &= is_hex[starts] | (first_pair == starts)  # no lone ":" before the first group
    ok &= is_hex[end - 1] | ((count == 1) & (first_pair == end - 2))  # nor after the last
    runs = _hex_runs(is_hex)
    r0, r1 = np.searchsorted(runs[0], starts), np.searchsorted(runs[0], end)
    groups = r1 - r0
    long_runs = _counts(runs[1] - runs[0] > 4)
    ok &= long_runs[r1] == long_runs[r0]  # a group is at most 4 hex digits
    whole = np.where(count == 0, groups == GROUPS, groups < GROUPS)
    if ip6tset:  # 2001:db8:1:2 (four groups: a /64) or a /64 written out
        short = (count == 0) & (groups == IP6TSET_BITS // 16)
        ok &= np.where(has_slash, whole & (bits == IP6TSET_BITS), short)
    else:
        ok &= whole
    hi, lo = _assemble(hexval, runs, r0, np.where(ok, groups, 0), first_pair)
    ok &= ~((hi == 0) & (lo >> np.uint64(32) == MAPPED_V4))  # mapped: read as IPv4
    host_hi = _mask(np.clip(64 - bits, 0, 64))
    host_lo = _mask(np.clip(_BITS - bits, 0, 64))
    ok &= ((hi & host_hi) == 0) & ((lo & host_lo) == 0)  # host bits: the parser says why
    return ok, np.stack((hi, lo, hi | host_hi, lo | host_lo), axis=1)


def _counts(flags: Array) -> Array:
    """counts[i] = how many of ``flags[:i]`` are set (int32: a chunk is small)."""
    counts = np.zeros(len(flags) + 1, dtype=np.int32)
    np.cumsum(flags, dtype=np.int32, out=counts[1:])
    return counts


def _next(positions: Array, at: Array, end: int) -> Array:
    """The first of ``positions`` at or after each ``at`` (``end`` if none)."""
    padded = np.append(positions, end)
    found: Array = padded[np.searchsorted(positions, at)]
    return found


def _prefix(data: Array, starts: Array, ends: Array) -> tuple[Array, Array]:
    """(value, ok) of the 1-3 decimal digits ``data[starts:ends]``, the prefix length."""
    length = ends - starts
    ok = (length >= 1) & (length <= 3)
    value = np.zeros(len(starts), dtype=np.int64)
    for place in range(3):
        at = np.minimum(starts + place, len(data) - 1)
        digit = data[at].astype(np.int64) - _ZERO
        inside = place < length
        ok &= ~inside | ((digit >= 0) & (digit <= 9))
        value = np.where(inside, value * 10 + digit, value)
    return value, ok & (value <= _BITS)


def _hex_runs(is_hex: Array) -> tuple[Array, Array]:
    """(starts, ends) of the maximal runs of hex digits (the chunk ends with LF)."""
    edges = np.flatnonzero(is_hex[1:] != is_hex[:-1]).astype(np.int32) + 1
    if is_hex[0]:
        edges = np.concatenate((np.zeros(1, dtype=np.int32), edges))
    return edges[0::2], edges[1::2]


def _assemble(
    hexval: Array, runs: tuple[Array, Array], r0: Array, groups: Array, pair: Array
) -> tuple[Array, Array]:
    """High and low halves from each word's ``groups`` hex runs starting at run ``r0``."""
    n = len(r0)
    hi, lo = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
    total = int(groups.sum())
    if total == 0:
        return hi, lo
    word = np.repeat(np.arange(n), groups)
    offset = np.arange(total) - np.repeat(np.cumsum(groups) - groups, groups)
    run = r0[word] + offset
    starts, ends = runs[0][run], runs[1][run]
    value = np.zeros(total, dtype=np.uint64)
    for place in range(4):
        at = ends - 1 - place
        inside = at >= starts
        digit = hexval[np.where(inside, at, starts)].astype(np.uint64)
        value |= np.where(inside, digit << np.uint64(4 * place), np.uint64(0))
    # Groups after the "::" are the last ones of the address.
    after = starts > pair[word]
    group = offset + np.where(after, GROUPS - groups[word], 0)
    shift = ((3 - group % 4) * 16).astype(np.uint64)
    part = value << shift
    np.bitwise_or.at(hi, word[group < 4], part[group < 4])
    np.bitwise_or.at(lo, word[group >= 4], part[group >= 4])
    return hi, lo


def _mask(bits: Array) -> Array:
    """Low ``bits`` (0..64) bits set, as uint64."""
    full = bits >= 64
    shift = np.where(full, 0, bits).astype(np.uint64)
    mask: Array = np.where(full, np.uint64(0xFFFFFFFFFFFFFFFF), (np.uint64(1) << shift) - 1)
    return mask
