"""Following a list file that only grew by ``!address`` lines, without reloading millions of lines.

Delisting a large list appends one exclusion line (``ListStore.exclude``).
Every process that holds the list (other web processes, the CLI, the scoring
service) then sees the file changed; when the change is only such lines
added at the end, the loaded list takes them as holes and stays, instead of
a reload that costs seconds of CPU per ten million lines.  Anything else (a
rewrite, a new entry, a network exclusion) returns None: reload the file.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from oplguard.errors import ListError
from oplguard.lists.block import BlockList, FileStamp, read_tail
from oplguard.lists.formats import decode, iter_rows

# A tail longer than this is a bulk change, not a few delistings: reload.
MAX_TAIL_BYTES = 1024 * 1024


def follow(block: BlockList, stamp: FileStamp | None) -> BlockList | None:
    """``block`` with the holes its file's new tail adds, or None when it must be reloaded."""
    old = block.stamp
    if stamp is None or old is None or stamp.inode != old.inode:
        return None
    if not 0 < stamp.size - old.size <= MAX_TAIL_BYTES:
        return None
    try:
        added, info, tail = _read_added(block, old)
    except OSError:  # gone or unreadable: the reload reports it
        return None
    if not added:
        return None
    holes = _holes(block, added)
    if holes is None:
        return None
    return replace(
        block,
        holes=block.holes | holes,
        stamp=FileStamp.of(info),
        tail=tail,
        loaded_at=time.time(),  # what `oplguard lists status` shows: this state's time
        mtime=info.st_mtime,
    )


def _read_added(block: BlockList, old: FileStamp) -> tuple[bytes, os.stat_result, bytes]:
    """The bytes after the loaded size, the file's stat and its new tail ("" if rewritten)."""
    fd = os.open(block.config.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if info.st_ino != old.inode or read_tail(fd, old.size) != block.tail:
            return b"", info, b""  # rewritten in place, not appended to
        return os.pread(fd, info.st_size - old.size, old.size), info, read_tail(fd, info.st_size)
    finally:
        os.close(fd)


def _holes(block: BlockList, added: bytes) -> frozenset[tuple[int, int]] | None:
    """The addresses the added lines exclude, or None if they do anything else."""
    if not added.endswith(b"\n"):
        return None  # an append still being written: read it whole next time
    holes = set()
    try:
        for _, (span, _, _, _, is_exclusion) in iter_rows(decode(added), block.config.format):
            version, first, last = span
            if not is_exclusion or first != last:
                return None
            holes.add((version, first))
    except (ListError, ValueError):  # the full reload reports the bad line
        return None
    return frozenset(holes)
