"""A loaded list and a moment's lists: BlockList, ListSnapshot, and ``load_list`` that reads one.

Immutable values: a reload builds new ones (``store.ListStore`` swaps them in).
Reading only: edits live in ``store`` and ``edit``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from oplguard.errors import ListError
from oplguard.ipaddr import Network, address_value
from oplguard.lists import loader
from oplguard.lists.entries import ListEntry
from oplguard.lists.ipset import NetworkSet

if TYPE_CHECKING:
    from oplguard.config.model import ListConfig

log = logging.getLogger("oplguard.lists.store")  # the name admins filter on, as before

# The bytes kept from a list's end to tell a later append from a rewrite in place.
TAIL_BYTES = 4096
# A list file larger than this is a mistake (a log, an archive), not a list:
# 1 GiB is ~50 million plain lines, five times the largest OPL we plan for
# (10 million IPv4 + 1 million IPv6 entries are ~210 MB).  Files are read in
# chunks, so the limit bounds load time, not memory.
MAX_LIST_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What tells a changed file: mtime (ns), size and inode (os.replace)."""

    mtime_ns: int
    size: int
    inode: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileStamp:
        return cls(info.st_mtime_ns, info.st_size, info.st_ino)


@dataclass(frozen=True, slots=True)
class ListHit:
    """One list that lists an IP, with the entry that decided it."""

    list_name: str
    category: str
    entry: ListEntry


@dataclass(frozen=True, slots=True)
class BlockList:
    """One loaded list: its entries and the NetworkSet answering entry indexes.

    ``entries`` holds listed entries only (their index is the NetworkSet
    payload); ``exclusions`` the holes.  Entries expired at load are left out.
    """

    config: ListConfig
    entries: Sequence[ListEntry]
    networks: NetworkSet
    loaded_at: float
    mtime: float
    exclusions: Sequence[ListEntry] = ()
    stamp: FileStamp | None = None
    # (version, address) excluded by ``!address`` lines appended since the
    # load (by this process, or read from the file's new tail: ``lists.tail``).
    holes: frozenset[tuple[int, int]] = frozenset()
    # The file's last bytes up to ``stamp.size``: tells an append from a rewrite.
    tail: bytes = b""
    load_s: float = 0.0  # how long reading and parsing the file took

    def lookup(self, ip: str, now: datetime | None = None) -> ListEntry | None:
        """The most specific entry listing ``ip`` (not expired at ``now``), or None.

        Raises:
            ValueError: ``ip`` is not an IP address.
        """
        return self.lookup_int(*address_value(ip), now=now)

    def lookup_int(self, version: int, value: int, now: datetime | None = None) -> ListEntry | None:
        """``lookup`` for an already parsed address."""
        if self.holes and (version, value) in self.holes:
            return None
        index = self.networks.lookup_int(version, value)
        if index is None:
            return None
        entry = self.entries[index]
        # An entry that expired since load answers nothing (no fallback to a
        # covering entry until the next reload rebuilds the set).
        if now is not None and entry.is_expired(now):
            return None
        return entry

    def listed(self) -> Iterator[tuple[Network, ListEntry]]:
        """Every listed CIDR with its entry, exclusions carved out (for export)."""
        for interval in self.networks.intervals():
            entry = self.entries[interval.payload]
            for network in interval.networks():
                yield network, entry


@dataclass(frozen=True, slots=True)
class ListSnapshot:
    """All lists at one moment; never changes, a reload makes a new one."""

    lists: tuple[BlockList, ...] = ()

    def lookup(self, ip: str, now: datetime | None = None) -> tuple[ListHit, ...]:
        """Every list that lists ``ip``, in config order.

        Raises:
            ValueError: ``ip`` is not an IP address.
        """
        version, value = address_value(ip)
        hits = []
        for block in self.lists:
            entry = block.lookup_int(version, value, now)
            if entry is not None:
                hits.append(ListHit(block.config.name, block.config.category, entry))
        return tuple(hits)

    def get(self, name: str) -> BlockList | None:
        return next((block for block in self.lists if block.config.name == name), None)


def read_whole(path: Path) -> tuple[bytes, os.stat_result]:
    """The whole file, for edits (which parse and rewrite it whole)."""
    try:
        with path.open("rb") as handle:
            return handle.read(), _check_size(path, os.fstat(handle.fileno()))
    except OSError as err:
        raise ListError(f"cannot read list file: {err.strerror or err}", path=str(path)) from err


def _check_size(path: Path, info: os.stat_result) -> os.stat_result:
    if info.st_size > MAX_LIST_BYTES:
        raise ListError(
            f"list file is {info.st_size} bytes, over the {MAX_LIST_BYTES} limit; "
            "is this the right file?",
            path=str(path),
        )
    return info


def stamp_of(path: Path) -> FileStamp | None:
    try:
        return FileStamp.of(path.stat())
    except OSError:
        return None


def load_list(
    config: ListConfig,
    now: datetime | None = None,
    on_read: Callable[[int], None] | None = None,
) -> BlockList:
    """Read and parse one list file, chunk by chunk (never all of it in memory);
    ``on_read`` hears the bytes read so far.

    Raises:
        ListError: the file cannot be read, or a line is bad (file and line named).
    """
    now = now or datetime.now(UTC)
    started = time.monotonic()
    try:
        with config.path.open("rb") as handle:
            info = _check_size(config.path, os.fstat(handle.fileno()))
            loaded = loader.load(handle, config.format, str(config.path), now, on_read)
            tail = read_tail(handle.fileno(), info.st_size)
    except OSError as err:
        raise ListError(
            f"cannot read list file: {err.strerror or err}", path=str(config.path)
        ) from err
    log.info(
        "loaded list %s from %s: %d entries, %d exclusions, %d expired left out",
        config.name,
        config.path,
        len(loaded.entries),
        len(loaded.exclusions),
        loaded.expired,
    )
    return BlockList(
        config,
        loaded.entries,
        loaded.networks,
        loaded_at=time.time(),
        mtime=info.st_mtime,
        tail=tail,
        exclusions=loaded.exclusions,
        stamp=FileStamp.of(info),
        load_s=time.monotonic() - started,
    )


def read_tail(fd: int, size: int) -> bytes:
    """The ``TAIL_BYTES`` before offset ``size`` of an open file."""
    start = max(size - TAIL_BYTES, 0)
    return os.pread(fd, size - start, start)
