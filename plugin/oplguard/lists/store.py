"""ListStore: the named block lists, loaded from files and swapped in whole.

Readers take ``store.snapshot`` once; a reload builds a new snapshot aside and
swaps it in one assignment.  ``load`` fails loudly; ``reload`` keeps a broken
list's last good version.  Edits rewrite a list file atomically.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oplguard.errors import ListError
from oplguard.ipaddr import Span, span_text
from oplguard.lists import spans, tail
from oplguard.lists.block import (
    MAX_LIST_BYTES,
    BlockList,
    FileStamp,
    ListSnapshot,
    load_list,
    read_whole,
    stamp_of,
)
from oplguard.lists.edit import append_line, locked, write_atomic
from oplguard.lists.entries import EntryTable, ListEntry
from oplguard.lists.formats import Row, decode, entry_of, format_line, iter_rows, request_span
from oplguard.progress import Progress, amount

if TYPE_CHECKING:
    from oplguard.config.model import ListConfig

__all__ = [
    "APPEND_FROM_BYTES",
    "LIST_POLL_INTERVAL_S",
    "MAX_LIST_BYTES",
    "ListStore",
]
log = logging.getLogger(__name__)

# How often the services check list files for changes (mtime): an approved
# removal or a new list file is live within this many seconds, without a restart.
LIST_POLL_INTERVAL_S = 2.0
# From this size on, a delisting appends an exclusion line (O(1)) instead of
# rewriting the file without the entry's line: parsing and rewriting 1 MiB
# (~50,000 lines) takes about a tenth of a second, 200 MiB tens of seconds.
APPEND_FROM_BYTES = 1024 * 1024
# Counting the lines of a large list: big reads, few system calls.
READ_CHUNK_BYTES = 4 * 1024 * 1024


def _load_shown(config: ListConfig, progress: Progress | None) -> BlockList:
    """``load_list``, with a progress line (bytes, rate, time left) when ``progress`` is given."""
    if progress is None:
        return load_list(config)
    stamp = stamp_of(config.path)
    task = progress.task(f"loading {config.name}", stamp.size if stamp else 0, "B")
    try:
        block = load_list(config, on_read=task.advance_to)
    except ListError:
        task.close(f"loading {config.name} failed")  # the error follows on its own line
        raise
    size = amount(block.stamp.size if block.stamp else 0, "B")
    task.close(
        f"loaded {config.name}: {len(block.entries):,} entries, {size} in {block.load_s:.1f} s"
    )
    return block


class ListStore:
    """The configured lists; ``snapshot`` is replaced whole, never changed in place."""

    def __init__(
        self, configs: Iterable[ListConfig], *, append_from_bytes: int = APPEND_FROM_BYTES
    ) -> None:
        self.configs = tuple(configs)
        self.append_from_bytes = append_from_bytes
        self.snapshot = ListSnapshot()
        self._seen: dict[str, FileStamp | None] = {}  # stamp of the last load attempt
        # Per large list: the file's stamp, line count and spans after this
        # process appended entries the loaded list does not hold yet.
        self._added: dict[str, tuple[FileStamp | None, int, frozenset[tuple[Span, bool]]]] = {}
        self._lock = threading.Lock()  # one writer at a time; readers never wait

    def load(self, progress: Progress | None = None) -> ListSnapshot:
        """Load every list; the first bad one stops startup.  With ``progress`` (a terminal),
        each file shows how far it is.

        Raises:
            ListError: a list file cannot be read or has a bad line.
        """
        with self._lock:
            lists = tuple(_load_shown(config, progress) for config in self.configs)
            self._seen = {block.config.name: block.stamp for block in lists}
            self._added.clear()
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
                stamp = stamp_of(config.path)
                if not force and previous is not None and stamp == previous.stamp:
                    lists.append(previous)
                    continue
                grown = None if force or previous is None else tail.follow(previous, stamp)
                if grown is not None:  # only !address lines appended: no reload needed
                    self._seen[config.name] = grown.stamp
                    lists.append(grown)
                    continue
                try:
                    block = load_list(config)
                except ListError as err:
                    errors.append(str(err))
                    self._seen[config.name] = stamp  # reported once, not at every poll
                    lists.extend([previous] if previous is not None else [])
                    continue
                self._seen[config.name] = block.stamp
                self._added.pop(config.name, None)
                lists.append(block)
            self.snapshot = ListSnapshot(tuple(lists))
        return errors

    def changed_files(self) -> list[Path]:
        """List files whose mtime, size or inode differ from the last load attempt."""
        return [
            config.path
            for config in self.configs
            if config.name not in self._seen or stamp_of(config.path) != self._seen[config.name]
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
            block = self._loaded_large(config, with_added=True)
            if block is not None:
                return self._append_entry(
                    block, network, reason, since=since, expires=expires, is_exclusion=is_exclusion
                )
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
            block = self._loaded_large(config)
            found = None if block is None or is_exclusion else self._append_removal(block, ip)
            if found:
                return found
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
        stamp = stamp_of(self._config(list_name).path)
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
            block = self.snapshot.get(list_name)
            append_line(config.path, line)
            grown = None if block is None else tail.follow(block, stamp_of(config.path))
            if grown is not None:  # the loaded list takes the hole: no reload
                self._swap(grown)
        log.warning("list %s: appended %s (%s)", list_name, line, config.path)
        return line

    def _loaded_large(self, config: ListConfig, with_added: bool = False) -> BlockList | None:
        """The list as loaded, if its file is large and unchanged since (lock held).

        ``with_added``: changed only by this process's appended entries counts too.
        """
        block, stamp = self.snapshot.get(config.name), stamp_of(config.path)
        if block is None or stamp is None or stamp.size < self.append_from_bytes:
            return None
        tables = (block.entries, block.exclusions)
        is_table = all(isinstance(table, EntryTable) for table in tables)
        added = self._added.get(config.name)
        fresh = block.stamp == stamp or (with_added and added is not None and added[0] == stamp)
        return block if is_table and fresh else None

    def _append_entry(self, block: BlockList, network: str, reason: str, **extra: Any) -> ListEntry:
        """``add_entry`` on a large list: duplicates found in the loaded columns, one append.

        The loaded list does not have the entry yet: the file reads as changed,
        and the next reload (the service's poll) loads it.
        """
        config, is_exclusion = block.config, bool(extra["is_exclusion"])
        try:
            span = request_span(network, config.format)
            line = format_line(config.format, span, reason, **extra)
            ((_, row),) = iter_rows(line, config.format, str(config.path))
        except ValueError as err:
            raise ListError(str(err), path=str(config.path)) from err
        table = block.exclusions if is_exclusion else block.entries
        assert isinstance(table, EntryTable)  # _loaded_large checked it
        exact, _ = spans.find(table.columns, span)
        _, lines, added = self._added.get(config.name, (None, 0, frozenset()))
        if exact or (span, is_exclusion) in added:
            number = table[exact[0]].line if exact else 0
            where = f"on line {number}" if number else "added since the list was loaded"
            raise ListError(
                f"{span_text(span)} is already {where}; remove it first",
                path=str(config.path),
                line=number,
            )
        append_line(config.path, line)
        lines = lines + 1 if lines else _count_lines(config.path)
        self._added[config.name] = (stamp_of(config.path), lines, added | {(span, is_exclusion)})
        log.warning("list %s: appended %s (%s)", config.name, line, config.path)
        return entry_of(lines, row)

    def _append_removal(self, block: BlockList, ip: str) -> tuple[ListEntry, ...]:
        """``remove_entry`` on a large list by appending an exclusion of exactly that span.

        Only when no other entry contains the span (then excluding it and
        removing its lines list the same addresses); otherwise () and the
        caller rewrites the file.
        """
        config = block.config
        try:
            span = request_span(ip, config.format)
            line = format_line(config.format, span, "removed", is_exclusion=True)
        except ValueError as err:
            raise ListError(str(err), path=str(config.path)) from err
        assert isinstance(block.entries, EntryTable)  # _loaded_large checked it
        exact, covering = spans.find(block.entries.columns, span)
        if not exact or covering:
            return ()
        found = tuple(block.entries[i] for i in exact)
        append_line(config.path, line)
        grown = tail.follow(block, stamp_of(config.path))
        if grown is not None:  # one address: the loaded list takes the hole, no reload
            self._swap(grown)
        log.warning("list %s: removed %s by appending %s", config.name, span_text(span), line)
        return found

    def _config(self, name: str) -> ListConfig:
        for config in self.configs:
            if config.name == name:
                return config
        known = ", ".join(config.name for config in self.configs) or "none"
        raise ListError(f"unknown list {name!r}; configured lists: {known}")

    def _read_for_edit(self, config: ListConfig) -> tuple[str, str]:
        """The file as text that re-encodes to the same bytes, and as parsed text."""
        data, _ = read_whole(config.path)
        # surrogateescape keeps undecodable bytes as they were when written back.
        return data.decode("utf-8", errors="surrogateescape"), decode(data)

    def _rewrite(self, config: ListConfig, text: str) -> None:
        """Write the file, reload that list, swap the snapshot (lock held)."""
        write_atomic(config.path, _encode(text))
        self._swap(load_list(config))

    def _swap(self, block: BlockList) -> None:
        """Put ``block`` in the snapshot in place of its list's (lock held)."""
        self._seen[block.config.name] = block.stamp
        self._added.pop(block.config.name, None)
        lists = []
        for each in self.configs:
            chosen = block if each.name == block.config.name else self.snapshot.get(each.name)
            if chosen is not None:
                lists.append(chosen)
        self.snapshot = ListSnapshot(tuple(lists))


def _count_lines(path: Path) -> int:
    """Lines in the file: the number of the line just appended (one pass, no parsing)."""
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK_BYTES):
            count += chunk.count(b"\n")
    return count


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
