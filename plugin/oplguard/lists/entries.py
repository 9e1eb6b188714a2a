"""ListEntry and EntryTable: a list's entries in a few bytes each, a ListEntry made on access.

Ten million ListEntry objects would cost gigabytes.  An EntryTable keeps the
address bounds in arrays (8 bytes an IPv4 entry, 36 an IPv6 one) and stores
what most entries share only once: line numbers as runs (line = index + offset),
the reason a bare line gets as runs over line numbers, and only the entries
with a reason or dates of their own in a sparse side table.  Pure.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, overload

import numpy.typing as npt

from oplguard.ipaddr import span_text

# Distinct dates in one list are few (listing days): cache their parsing.
DATE_CACHE_SIZE = 4096
Array = npt.NDArray[Any]
Meta = tuple[str, str | None, str | None]
"""What an entry says besides its network: (reason, listed since, expires)."""


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One line of a list file.

    Attributes:
        network: canonical ``a``, ``net/len`` or ``a-b`` text.
        reason: why it is listed (plain: the rest of the line; rbldnsd: TXT).
        listed_since: ISO date or datetime, or None.
        expires: ISO date or datetime (UTC when written without zone), or None.
        line: 1-based line number in the file.
        is_exclusion: an rbldnsd-style ``!`` entry that carves a hole.
    """

    network: str
    reason: str
    listed_since: str | None = None
    expires: str | None = None
    line: int = 0
    is_exclusion: bool = False

    def expires_at(self) -> datetime | None:
        """The expiry as an aware datetime (a date means its first second, UTC)."""
        return None if self.expires is None else moment(self.expires)

    def is_expired(self, now: datetime) -> bool:
        return self.expires is not None and moment(self.expires) <= now


@lru_cache(maxsize=DATE_CACHE_SIZE)
def moment(text: str) -> datetime:
    """An ISO date or datetime as an aware datetime (no zone given: UTC)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Runs:
    """A step function over sorted keys: ``at(k)`` is the value of the last step <= k."""

    keys: memoryview
    values: memoryview

    def at(self, key: int) -> int:
        return int(self.values[bisect_right(self.keys, key) - 1])


@dataclass(frozen=True, slots=True)
class Sparse:
    """Values for a few keys out of many: ``get(k)`` or None."""

    keys: memoryview
    values: memoryview

    def get(self, key: int) -> int | None:
        i = bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            return int(self.values[i])
        return None


@dataclass(frozen=True, slots=True)
class Columns:
    """The bounds of a table's entries: IPv4 ones, and IPv6 ones with their indexes."""

    v4_first: memoryview
    v4_last: memoryview
    v6_index: memoryview  # table index of each IPv6 entry, ascending
    v6_bounds: memoryview  # first hi, first lo, last hi, last lo per IPv6 entry

    def span(self, index: int) -> tuple[int, int, int]:
        k = bisect_left(self.v6_index, index)
        if k < len(self.v6_index) and self.v6_index[k] == index:
            b = self.v6_bounds[4 * k : 4 * k + 4]
            return 6, b[0] << 64 | b[1], b[2] << 64 | b[3]
        j = index - k  # entries before it that are IPv6 do not count
        return 4, self.v4_first[j], self.v4_last[j]


class EntryTable(Sequence[ListEntry]):
    """A list's entries (or exclusions) in file order; built by ``loader.TableBuilder``."""

    __slots__ = ("_columns", "_defaults", "_lines", "_meta", "_metas", "_reasons", "is_exclusion")

    def __init__(
        self,
        columns: Columns,
        lines: Runs,
        defaults: Runs,
        meta: Sparse,
        reasons: tuple[str, ...],
        metas: tuple[Meta, ...],
        is_exclusion: bool = False,
    ) -> None:
        self._columns = columns
        self._lines = lines  # index -> line - index
        self._defaults = defaults  # line -> reason id of a line without its own
        self._meta = meta  # index -> id in metas, for entries with their own
        self._reasons = reasons
        self._metas = metas
        self.is_exclusion = is_exclusion

    def __len__(self) -> int:
        return len(self._columns.v4_first) + len(self._columns.v6_index)

    @property
    def columns(self) -> Columns:
        """The entries' address bounds (``lists.spans`` searches them in bulk)."""
        return self._columns

    @overload
    def __getitem__(self, index: int) -> ListEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ListEntry]: ...
    def __getitem__(self, index: int | slice) -> ListEntry | Sequence[ListEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("list entry index out of range")
        line = index + self._lines.at(index)
        meta_id = self._meta.get(index)
        if meta_id is None:
            reason, since, expires = self._reasons[self._defaults.at(line)], None, None
        else:
            reason, since, expires = self._metas[meta_id]
        span = span_text(self._columns.span(index))
        return ListEntry(span, reason, since, expires, line, self.is_exclusion)

    def __iter__(self) -> Iterator[ListEntry]:
        return (self[i] for i in range(len(self)))
