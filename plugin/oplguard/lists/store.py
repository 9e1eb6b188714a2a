"""ListStore: the named block lists, loaded from files and swapped in whole.

Readers take ``store.snapshot`` once; a reload builds a new snapshot aside and
swaps it in one assignment.  ``load`` fails loudly; ``reload`` keeps a broken
list's last good version.  Edits rewrite a list file atomically.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from oplguard.errors import ListError
from oplguard.lists import loader
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
from oplguard.progress import Progress, amount

if TYPE_CHECKING:
    from oplguard.config import ListConfig

log = logging.getLogger(__name__)

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
    load_s: float = 0.0  # how long reading and parsing the file took

    def lookup(self, ip: str, now: datetime | None = None) -> ListEntry | None:
        """The most specific entry listing ``ip`` (not expired at ``now``), or None.

        Raises:
            ValueError: ``ip`` is not an IP address.
        """
        return self.lookup_int(*parse_ip(ip), now=now)

    def lookup_int(self, version: int, value: int, now: datetime | None = None) -> ListEntry | None:
        """``lookup`` for an already parsed address."""
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
        load_s=time.monotonic() - started,
    )


def _load_shown(config: ListConfig, progress: Progress | None) -> BlockList:
    """``load_list``, with a progress line (bytes, rate, time left) when ``progress`` is given."""
    if progress is None:
        return load_list(config)
    stamp = _stamp(config.path)
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


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file in the same dir, fsync, os.replace.

    Readers see the old file or the new one, never a part; mode and owner are kept.

    Raises:
        ListError: the file cannot be written.
    """
    try:
        info = path.stat()
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise ListError(f"cannot rewrite list file: {err.strerror or err}", path=str(path)) from err
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, stat.S_IMODE(info.st_mode))
        if os.geteuid() == 0:  # root editing a service user's file: it stays theirs
            os.chown(temp, info.st_uid, info.st_gid)
        os.replace(temp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ListError(f"cannot rewrite list file: {err.strerror or err}", path=str(path)) from err
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX: fsync the directory)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:  # some filesystems refuse fsync on a directory
        log.warning("fsync of %s failed, the rename may not survive a crash: %s", directory, err)
    finally:
        os.close(fd)


class ListStore:
    """The configured lists; ``snapshot`` is replaced whole, never changed in place."""

    def __init__(self, configs: Iterable[ListConfig]) -> None:
        self.configs = tuple(configs)
        self.snapshot = ListSnapshot()
        self._seen: dict[str, FileStamp | None] = {}  # stamp of the last load attempt
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
        with self._lock:
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
        with self._lock:
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
        block = load_list(config)
        self._seen[config.name] = block.stamp
        lists = []
        for each in self.configs:
            chosen = block if each.name == config.name else self.snapshot.get(each.name)
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
