"""ListStore: the named block lists, loaded from files and swapped in whole.

Readers take ``store.snapshot`` once; a reload builds a new snapshot aside and
swaps it in one assignment.  ``load`` fails loudly; ``reload`` keeps a broken
list's last good version.  Edits rewrite a list file atomically.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from oplguard.errors import ListError
from oplguard.lists import loader
from oplguard.lists.edit import append_line, locked, write_atomic
from oplguard.lists.formats import (
    ListEntry,
    Row,
    decode,
    entry_of,
    format_line,
    iter_rows,
    request_span,
)
from oplguard.lists.ipset import Network, NetworkSet, Span, parse_ip, span_text

if TYPE_CHECKING:
    from oplguard.config import ListConfig

log = logging.getLogger(__name__)

# A list file larger than this is a mistake (a log, an archive), not a list:
# 1 GiB is ~50 million plain lines, five times the largest OPL we plan for
# (10 million IPv4 + 1 million IPv6 entries are ~210 MB).  Files are read in
# chunks, so the limit bounds load time, not memory.
MAX_LIST_BYTES = 1024 * 1024 * 1024
# From this size on, a delisting appends an exclusion line (O(1)) instead of
# rewriting the file without the entry's line: parsing and rewriting 1 MiB
# (~50,000 lines) takes about a tenth of a second, 200 MiB tens of seconds.
APPEND_FROM_BYTES = 1024 * 1024


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
    # (version, address) excluded by lines this process appended since the
    # load (``ListStore.exclude``): the file says the same, without a reload.
    holes: frozenset[tuple[int, int]] = frozenset()

    def lookup(self, ip: str, now: datetime | None = None) -> ListEntry | None:
        """The most specific entry listing ``ip`` (not expired at ``now``), or None.

        Raises:
            ValueError: ``ip`` is not an IP address.
        """
        return self.lookup_int(*parse_ip(ip), now=now)

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
        version, value = parse_ip(ip)
        hits = []
        for block in self.lists:
            entry = block.lookup_int(version, value, now)
            if entry is not None:
                hits.append(ListHit(block.config.name, block.config.category, entry))
        return tuple(hits)

    def get(self, name: str) -> BlockList | None:
        return next((block for block in self.lists if block.config.name == name), None)


def _read(path: Path) -> tuple[bytes, os.stat_result]:
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


def _stamp(path: Path) -> FileStamp | None:
    try:
        return FileStamp.of(path.stat())
    except OSError:
        return None


def load_list(config: ListConfig, now: datetime | None = None) -> BlockList:
    """Read and parse one list file, chunk by chunk (never all of it in memory).

    Raises:
        ListError: the file cannot be read, or a line is bad (file and line named).
    """
    now = now or datetime.now(UTC)
    try:
        with config.path.open("rb") as handle:
            info = _check_size(config.path, os.fstat(handle.fileno()))
            loaded = loader.load(handle, config.format, str(config.path), now)
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
        exclusions=loaded.exclusions,
        stamp=FileStamp.of(info),
    )


class ListStore:
    """The configured lists; ``snapshot`` is replaced whole, never changed in place."""

    def __init__(
        self, configs: Iterable[ListConfig], *, append_from_bytes: int = APPEND_FROM_BYTES
    ) -> None:
        self.configs = tuple(configs)
        self.append_from_bytes = append_from_bytes
        self.snapshot = ListSnapshot()
        self._seen: dict[str, FileStamp | None] = {}  # stamp of the last load attempt
        self._lock = threading.Lock()  # one writer at a time; readers never wait

    def load(self) -> ListSnapshot:
        """Load every list; the first bad one stops startup.

        Raises:
            ListError: a list file cannot be read or has a bad line.
        """
        with self._lock:
            lists = tuple(load_list(config) for config in self.configs)
            self._seen = {block.config.name: block.stamp for block in lists}
            self.snapshot = ListSnapshot(lists)
        return self.snapshot

    def reload(self, force: bool = False) -> list[str]:
        """Reload changed list files (all with ``force``) and swap the snapshot.

        A file that fails keeps its list's last good version; the errors are
        returned for the caller to log.
        """
        errors: list[str] = []
        with self._lock:
            lists = []
            for config in self.configs:
                previous = self.snapshot.get(config.name)
                stamp = _stamp(config.path)
                if not force and previous is not None and stamp == previous.stamp:
                    lists.append(previous)
                    continue
                try:
                    block = load_list(config)
                except ListError as err:
                    errors.append(str(err))
                    self._seen[config.name] = stamp  # reported once, not at every poll
                    lists.extend([previous] if previous is not None else [])
                    continue
                self._seen[config.name] = block.stamp
                lists.append(block)
            self.snapshot = ListSnapshot(tuple(lists))
        return errors

    def changed_files(self) -> list[Path]:
        """List files whose mtime, size or inode differ from the last load attempt."""
        return [
            config.path
            for config in self.configs
            if config.name not in self._seen or _stamp(config.path) != self._seen[config.name]
        ]

    def add_entry(
        self,
        list_name: str,
        network: str,
        reason: str = "",
        *,
        since: str | None = None,
        expires: str | None = None,
        is_exclusion: bool = False,
    ) -> ListEntry:
        """Append an entry to a list file (atomically) and reload that list.

        Raises:
            ListError: unknown list, bad network for the format, already
                listed, or the file cannot be read or written.
        """
        config = self._config(list_name)
        with locked([config.path]), self._lock:
            raw, text = self._read_for_edit(config)
            try:
                span = request_span(network, config.format)
                line = format_line(
                    config.format,
                    span,
                    reason,
                    since=since,
                    expires=expires,
                    is_exclusion=is_exclusion,
                )
            except ValueError as err:
                raise ListError(str(err), path=str(config.path)) from err
            _refuse_duplicate(config, text, span, is_exclusion)
            newline = "\r\n" if "\r\n" in raw else "\n"
            raw += (newline if raw and not raw.endswith("\n") else "") + line + newline
            # Parse the whole new text before writing: never write a file we cannot load.
            (added,) = deque(iter_rows(decode(_encode(raw)), config.format, str(config.path)), 1)
            self._rewrite(config, raw)
        log.warning("list %s: added %s (%s)", list_name, line, config.path)
        return entry_of(*added)

    def remove_entry(
        self, list_name: str, ip: str, *, is_exclusion: bool = False
    ) -> tuple[ListEntry, ...]:
        """Remove the lines listing exactly ``ip`` (an address or network); reload.

        Other lines and comments stay byte for byte.  An address only covered by
        a wider entry is not removed: that needs an exclusion (``add_entry``).

        Raises:
            ListError: unknown list, no such entry, or the file cannot be rewritten.
        """
        config = self._config(list_name)
        with locked([config.path]), self._lock:
            raw, text = self._read_for_edit(config)
            try:
                span = request_span(ip, config.format)
            except ValueError as err:
                raise ListError(str(err), path=str(config.path)) from err
            rows = iter_rows(text, config.format, str(config.path))
            found = tuple(entry_of(n, r) for n, r in rows if r[0] == span and r[4] == is_exclusion)
            if not found:
                rows = iter_rows(text, config.format, str(config.path))
                raise ListError(_not_listed(list_name, span, rows), path=str(config.path))
            drop = {entry.line for entry in found}
            lines = raw.split("\n")
            self._rewrite(
                config, "\n".join(t for n, t in enumerate(lines, start=1) if n not in drop)
            )
        log.warning("list %s: removed %s (lines %s)", list_name, span_text(span), sorted(drop))
        return found

    def is_large(self, list_name: str) -> bool:
        """Whether edits of this list append exclusions instead of rewriting the file."""
        stamp = _stamp(self._config(list_name).path)
        return stamp is not None and stamp.size >= self.append_from_bytes

    def exclude(self, list_name: str, ip: str, reason: str) -> str:
        """Delist one address by appending an exclusion line: O(1) at any list size.

        The loaded list gets the hole too (no reload of millions of lines), as
        long as it was loaded from the file as it was just before the append.

        Raises:
            ListError: unknown list, bad address, or the file cannot be written.
        """
        config = self._config(list_name)
        try:
            span = request_span(ip, config.format)
            line = format_line(config.format, span, reason, is_exclusion=True)
            tuple(iter_rows(line, config.format, str(config.path)))  # never write a bad line
        except ValueError as err:
            raise ListError(str(err), path=str(config.path)) from err
        with locked([config.path]), self._lock:
            before = _stamp(config.path)
            append_line(config.path, line)
            after = _stamp(config.path)
            block = self.snapshot.get(list_name)
            if block is not None and before is not None and block.stamp == before:
                self._swap(replace(block, holes=block.holes | {parse_ip(ip)}, stamp=after))
        log.warning("list %s: appended %s (%s)", list_name, line, config.path)
        return line

    def _config(self, name: str) -> ListConfig:
        for config in self.configs:
            if config.name == name:
                return config
        known = ", ".join(config.name for config in self.configs) or "none"
        raise ListError(f"unknown list {name!r}; configured lists: {known}")

    def _read_for_edit(self, config: ListConfig) -> tuple[str, str]:
        """The file as text that re-encodes to the same bytes, and as parsed text."""
        data, _ = _read(config.path)
        # surrogateescape keeps undecodable bytes as they were when written back.
        return data.decode("utf-8", errors="surrogateescape"), decode(data)

    def _rewrite(self, config: ListConfig, text: str) -> None:
        """Write the file, reload that list, swap the snapshot (lock held)."""
        write_atomic(config.path, _encode(text))
        self._swap(load_list(config))

    def _swap(self, block: BlockList) -> None:
        """Put ``block`` in the snapshot in place of its list's (lock held)."""
        self._seen[block.config.name] = block.stamp
        lists = []
        for each in self.configs:
            chosen = block if each.name == block.config.name else self.snapshot.get(each.name)
            if chosen is not None:
                lists.append(chosen)
        self.snapshot = ListSnapshot(tuple(lists))


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def _refuse_duplicate(config: ListConfig, text: str, span: Span, is_exclusion: bool) -> None:
    for number, row in iter_rows(text, config.format, str(config.path)):
        if row[0] == span and row[4] == is_exclusion:
            raise ListError(
                f"{span_text(span)} is already on line {number}; remove it first",
                path=str(config.path),
                line=number,
            )


def _not_listed(list_name: str, span: Span, rows: Iterable[tuple[int, Row]]) -> str:
    version, first, last = span
    text = f"{span_text(span)} is not an entry of list {list_name!r}"
    covering = [
        (s[2] - s[1], number, span_text(s))
        for number, (s, _, _, _, is_exclusion) in rows
        if s[0] == version and s[1] <= first and last <= s[2] and not is_exclusion
    ]
    if not covering:
        return text
    _, line, network = min(covering)  # the entry that lists it: the most specific
    return f"{text}; it is covered by {network} (line {line}): add an exclusion"
