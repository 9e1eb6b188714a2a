"""Load one list file into its entries, exclusions and NetworkSet, in bounded memory.

The file is read in chunks.  ``bulk`` reads the IPv4 and IPv6 networks of a
chunk's lines at once, and a reason after them once per distinct text; every
other line (comments, dates, exclusions, rbldnsd values, bad lines) goes to the
exact per-line parser of ``formats``, in file order, so errors and metadata are
that parser's own.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from oplguard.config.vocabulary import ListFormat
from oplguard.errors import ListError
from oplguard.lists import bulk, bulk6
from oplguard.lists.builder import NONE6, Built, TableBuilder
from oplguard.lists.entries import EntryTable, moment
from oplguard.lists.flatten import HOLE
from oplguard.lists.formats import LineParser, Row, line_parser
from oplguard.lists.ipset import NetworkSet

# Read this much of a file at a time: big enough for NumPy to pay, small
# enough that a chunk's temporary arrays stay a few tens of MB.
CHUNK_BYTES = 4 * 1024 * 1024
# Reasons (the bytes after a network) seen while loading, kept to read each
# once; cleared at this many, so a list of all different reasons stays bounded.
REST_CACHE_SIZE = 1 << 16
UNSEEN, EXACT, NO_REASON = -3, -2, -1
# glibc mallopt(3): blocks from this size on get their own mapping.
M_MMAP_THRESHOLD = -3
MAPPED_BYTES = 1 << 20
_HEX_OR_COLON = np.zeros(256, dtype=bool)
_HEX_OR_COLON[list(b"0123456789abcdefABCDEF:")] = True
Array = npt.NDArray[Any]


@dataclass
class Loaded:
    """A parsed list: entries, exclusions, the set answering entry indexes."""

    entries: EntryTable
    exclusions: EntryTable
    networks: NetworkSet
    expired: int


@dataclass
class _Reader:
    """Feeds chunks through the bulk and exact parsers into the two tables."""

    fmt: str
    path: str
    now: datetime
    parse: LineParser
    entries: TableBuilder = field(default_factory=lambda: TableBuilder(False))
    exclusions: TableBuilder = field(default_factory=lambda: TableBuilder(True))
    expired: int = 0
    rest_ids: dict[bytes, int] = field(default_factory=dict)

    def chunk(self, data: bytes, first_line: int) -> None:
        """Read one chunk of whole lines; ``first_line`` is the number of its first."""
        scan = bulk.scan(data)
        numbers = np.arange(first_line, first_line + len(scan.starts), dtype=np.uint32)
        fast4 = np.zeros(len(numbers), dtype=bool)
        fast6, bounds6 = fast4.copy(), NONE6[1]
        if self.fmt == ListFormat.PLAIN:
            fast4 = scan.fast & self._reasons(data, scan, scan.fast, numbers)
            fast6, bounds6 = self._ipv6(data, scan, ~fast4, numbers)
        elif self.fmt == ListFormat.IP4SET:  # a value after the network: the exact parser reads it
            fast4 = scan.fast & (scan.words == scan.ends)
        else:  # ip6tset: bare /64s in bulk; values and exclusions line by line
            fast6, bounds6 = self._ipv6(data, scan, scan.words == scan.ends, numbers)
        slow = np.flatnonzero(~(fast4 | fast6))
        self._exact(data, slow, scan.starts[slow].tolist(), scan.ends[slow].tolist(), first_line)
        bounds4 = np.stack((scan.first[fast4], scan.last[fast4]), axis=1)
        self.entries.flush((numbers[fast4], bounds4), (numbers[fast6], bounds6))
        self.exclusions.flush()

    def _ipv6(
        self, data: bytes, scan: bulk.Scan, candidates: Array, numbers: Array
    ) -> tuple[Array, Array]:
        """Lines whose first word is an IPv6 prefix: (mask, their (n, 4) bounds)."""
        fast = np.zeros(len(numbers), dtype=bool)
        array = np.frombuffer(data, dtype=np.uint8)
        head = array[scan.starts]
        maybe = np.flatnonzero(candidates & (scan.words > scan.starts) & _HEX_OR_COLON[head])
        if len(maybe) == 0:
            return fast, NONE6[1]
        is_ip6tset = self.fmt == ListFormat.IP6TSET
        ok, bounds = bulk6.ipv6_words(array, scan.starts[maybe], scan.words[maybe], is_ip6tset)
        fast[maybe[ok]] = True
        if not is_ip6tset:
            fast &= self._reasons(data, scan, fast, numbers)
        return fast, bounds[ok][fast[maybe[ok]]]

    def _reasons(self, data: bytes, scan: bulk.Scan, lines: Array, numbers: Array) -> Array:
        """Read the reason after a bulk-read network; False where the exact parser must."""
        ok = np.ones(len(numbers), dtype=bool)
        rest = np.flatnonzero(lines & (scan.words < scan.ends))
        if len(self.rest_ids) > REST_CACHE_SIZE:
            self.rest_ids.clear()
        get = self.rest_ids.get
        spans = zip(scan.words[rest].tolist(), scan.ends[rest].tolist(), strict=True)
        pieces = [data[start:end] for start, end in spans]
        ids = np.array([get(piece, UNSEEN) for piece in pieces], dtype=np.int64)
        for k in np.flatnonzero(ids == UNSEEN).tolist():
            known = get(pieces[k])
            ids[k] = (
                self.rest_ids.setdefault(pieces[k], self._rest_id(pieces[k]))
                if known is None
                else known
            )
        ok[rest[ids == EXACT]] = False
        has = ids >= 0
        self.entries.add_metas(numbers[rest[has]], ids[has])
        return ok

    def _rest_id(self, rest: bytes) -> int:
        """Meta id of a plain reason; NO_REASON for blanks, EXACT for comments and dates."""
        text = rest.decode("utf-8", errors="replace")
        if "#" in text or "=" in text:
            return EXACT
        reason = text.strip()
        return self.entries.meta_id((reason, None, None)) if reason else NO_REASON

    def _exact(
        self, data: bytes, rows: Array, starts: list[int], ends: list[int], first_line: int
    ) -> None:
        """Parse the lines ``rows`` of a chunk one by one, in file order."""
        for i, start, end in zip(rows.tolist(), starts, ends, strict=True):
            number = first_line + i
            raw = data[start:end].decode("utf-8-sig" if number == 1 else "utf-8", errors="replace")
            try:
                row = self.parse(raw)
            except ValueError as err:
                raise ListError(str(err), path=self.path, line=number) from err
            if row is None:
                self.entries.set_default(number, self.parse.values.default_txt)
            else:
                self._row(number, row)

    def _row(self, number: int, row: Row) -> None:
        span, reason, since, expires, is_exclusion = row
        if expires is not None and moment(expires) <= self.now:
            self.expired += 1
            return
        table = self.exclusions if is_exclusion else self.entries
        default = "" if is_exclusion else self.parse.values.default_txt
        meta = (reason, since, expires)
        table.add(number, span, None if meta == (default, None, None) else meta)


def load(
    handle: IO[bytes],
    fmt: str,
    path: str,
    now: datetime,
    on_read: Callable[[int], None] | None = None,
) -> Loaded:
    """Parse a list file from ``handle``; entries expired at ``now`` are left out.
    ``on_read`` hears the bytes read so far after each chunk (a progress display).

    Raises:
        ListError: unknown format or a bad line (file and line named).
    """
    parse = line_parser(fmt, _head_lines(handle) if fmt == ListFormat.IP6TSET else iter(()), path)
    handle.seek(0)
    reader = _Reader(fmt, path, now, parse)
    reader.entries.set_default(0, parse.values.default_txt)  # ip6tset: the dataset value
    for data, first_line in _chunks(handle):
        reader.chunk(data, first_line)
        if on_read is not None:
            on_read(handle.tell())
    _map_big_arrays()  # from here on, columns as big as the list come and go
    entries, exclusions = reader.entries.finish(), reader.exclusions.finish()
    _give_back_free_memory()  # what chunk reading left in the heap
    networks = NetworkSet.of(*_columns(entries, exclusions))
    loaded = Loaded(entries.table, exclusions.table, networks, reader.expired)
    del reader, entries, exclusions  # the load's temporaries go before the heap is trimmed
    _give_back_free_memory()
    return loaded


def _map_big_arrays() -> None:
    """Have glibc give each array of 1 MiB or more its own mapping from now on.

    glibc raises its mmap threshold as big blocks are freed, so the whole-list
    columns of the last load steps would come from the heap, and what they free
    stays resident beside the next ones: over 100 MB more peak at 10 million
    entries.  A fixed threshold keeps big blocks mapped and returned at once.
    Chunk reading runs before this, on the reused heap (mapping its
    temporaries each time costs seconds of page faults).  Elsewhere: nothing.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, MAPPED_BYTES)


def _give_back_free_memory() -> None:
    """Return the heap pages freed by the load's temporaries to the system.

    glibc keeps freed memory for reuse; after a load that made hundreds of MB
    of short-lived arrays, the service would otherwise hold them for good.
    Elsewhere (another libc) this does nothing.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return
    trim(0)


def _columns(entries: Built, exclusions: Built) -> tuple[Any, Any]:
    """NetworkSet columns: entries answer their table index, exclusions ``HOLE``."""
    hole4 = np.full(len(exclusions.first4), HOLE, dtype=np.uint32)
    hole6 = np.full(len(exclusions.index6), HOLE, dtype=np.uint32)
    v4 = (
        _join(entries.first4, exclusions.first4),
        _join(entries.last4, exclusions.last4),
        _join(entries.index4, hole4),
    )
    bounds = _join(entries.bounds6, exclusions.bounds6)
    v6 = (*(bounds[:, k] for k in range(4)), _join(entries.index6, hole6))
    return v4, v6


def _join(mine: Array, holes: Array) -> Array:
    """Entries, then exclusions (no copy when there are none)."""
    return np.concatenate((mine, holes)) if len(holes) else mine


def _chunks(handle: IO[bytes]) -> Iterator[tuple[bytes, int]]:
    """Whole lines, about CHUNK_BYTES at a time, each with the number of its first line.

    A line longer than a chunk (a binary file) is gathered in parts, not by
    copying a growing tail again and again.
    """
    line, parts = 1, list[bytes]()
    while block := handle.read(CHUNK_BYTES):
        cut = block.rfind(b"\n") + 1
        if not cut:
            parts.append(block)
            continue
        data = b"".join([*parts, block[:cut]])
        parts = [block[cut:]]
        yield data, line
        line += data.count(b"\n")
    tail = b"".join(parts)
    if tail:
        yield tail + b"\n", line


def _head_lines(handle: IO[bytes]) -> Iterator[str]:
    """The file's lines as text, read lazily (the caller stops early)."""
    for data, _ in _chunks(handle):
        for line in data.decode("utf-8-sig", errors="replace").split("\n")[:-1]:
            yield line.removesuffix("\r")
