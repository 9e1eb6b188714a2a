"""Bulk parsing of list lines that start with an IPv4 address or CIDR, all at once.

Big published lists are mostly ``a.b.c.d`` or ``a.b.c.d/len`` lines; NumPy reads
a whole chunk of them in one pass.  A line is *fast* only when its first word is
valid exactly as ``ipaddr.parse_span`` would read it (no leading zeros, octets up to
255, no host bits); every other line goes to the exact per-line parser, which
says what is wrong.  Pure: bytes in, arrays out.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

_ZERO, _SPACE, _TAB, _CR, _LF, _DOT, _SLASH = (ord(c) for c in "0 \t\r\n./")
Array = npt.NDArray[Any]


class Scan(NamedTuple):
    """One chunk's lines; ``first``/``last`` hold where ``fast`` is true.

    Attributes:
        starts: offset of each line in the chunk.
        ends: offset of each line's end (LF and one CR before it left out).
        words: offset where the first word ends (at a space, a tab or the end).
        fast: the first word is an IPv4 address or CIDR.
        first: first address of the word's interval (uint32).
        last: last address of the word's interval (uint32).
    """

    starts: Array
    ends: Array
    words: Array
    fast: Array
    first: Array
    last: Array


def scan(chunk: bytes) -> Scan:
    """Split ``chunk`` (ending with LF) into lines and read every IPv4 first word.

    Works on runs of digits in the whole chunk, never on one line at a time:
    a fast line is four runs joined by single dots from its first byte (a fifth
    after a ``/``), then a blank or the line's end.
    """
    if not chunk.endswith(b"\n"):
        raise ValueError("a chunk is whole lines, each ended by LF")
    data = np.frombuffer(chunk, dtype=np.uint8)
    ends = np.flatnonzero(data == _LF).astype(np.int32)
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    ends -= (ends > starts) & (data[np.maximum(ends - 1, 0)] == _CR)
    blanks = np.flatnonzero((data == _SPACE) | (data == _TAB)).astype(np.int32)
    blanks = np.append(blanks, np.int32(len(data)))
    words = np.minimum(blanks[np.searchsorted(blanks, starts)], ends)
    runs = _Runs.of(data)
    k = np.searchsorted(runs.starts, starts)
    valid = runs.starts[np.minimum(k, runs.last)] == starts  # a digit opens the line
    address = np.zeros(len(starts), dtype=np.uint64)
    for field in range(4):
        index = np.minimum(k + field, runs.last)
        valid &= runs.octet[index]
        if field < 3:
            valid &= runs.followed_by(data, index, _DOT)
        address = address << np.uint64(8) | runs.value[index]
    fourth = np.minimum(k + 3, runs.last)
    fifth = np.minimum(k + 4, runs.last)
    has_prefix = runs.followed_by(data, fourth, _SLASH)
    bits = np.where(has_prefix, runs.value[fifth], np.uint16(32))
    valid &= np.where(has_prefix, runs.ends[fifth], runs.ends[fourth]) == words
    valid &= bits <= 32
    host = (np.uint64(1) << (np.uint64(32) - np.minimum(bits, 32).astype(np.uint64))) - np.uint64(1)
    valid &= (address & host) == 0  # host bits set: the exact parser says what to write
    address &= np.uint64(0xFFFFFFFF)
    return Scan(
        starts, ends, words, valid, address.astype(np.uint32), (address | host).astype(np.uint32)
    )


class _Runs(NamedTuple):
    """Maximal runs of ASCII digits in a chunk, read as numbers (up to 3 digits)."""

    starts: Array
    ends: Array
    value: Array
    octet: Array  # 0..255 written without a leading zero
    last: int

    @classmethod
    def of(cls, data: Array) -> _Runs:
        digit = (data - np.uint8(_ZERO)) < 10
        edges = np.flatnonzero(digit[1:] != digit[:-1]).astype(np.int32) + 1
        del digit
        if len(data) and 0 <= int(data[0]) - _ZERO < 10:
            edges = np.concatenate((np.zeros(1, dtype=np.int32), edges))
        # The chunk ends with LF, so every run ends: edges alternate start, end.
        # A last empty run at the chunk's end (no line starts there) keeps every
        # "next run" index valid, even in a chunk without digits.
        sentinel = np.full(1, len(data) - 1, dtype=np.int32)
        starts = np.concatenate((edges[0::2], sentinel))
        ends = np.concatenate((edges[1::2], sentinel))
        length = ends - starts
        value = np.zeros(len(starts), dtype=np.uint16)
        for place, weight in enumerate((1, 10, 100)):
            digits = data[np.maximum(ends - 1 - place, starts)] - np.uint8(_ZERO)
            value += np.where(
                length > place, digits.astype(np.uint16) * np.uint16(weight), 0
            ).astype(np.uint16)
        short = length <= 3
        octet = short & (value <= 255) & ((length == 1) | (data[starts] != _ZERO))  # "010": octal?
        octet[-1] = False  # the sentinel
        value[~short] = 0xFFFF  # too long for an octet or a prefix length
        return cls(starts, ends, value, octet, len(starts) - 1)

    def followed_by(self, data: Array, index: Array, separator: int) -> Array:
        """Run ``index`` is followed by ``separator`` and the next run right after it."""
        after = np.minimum(index + 1, self.last)
        joined: Array = (data[self.ends[index]] == separator) & (
            self.starts[after] == self.ends[index] + 1
        )
        return joined
