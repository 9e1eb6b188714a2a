"""Local block lists: file formats, the NetworkSet index and the swapping ListStore.

Pure apart from ``store`` reading and atomically rewriting list files.
"""

from __future__ import annotations

from oplguard.lists.edit import write_atomic
from oplguard.lists.formats import EntryTable, ListEntry, parse_text
from oplguard.lists.ipset import EXCLUDED, Interval, NetworkSet
from oplguard.lists.store import (
    BlockList,
    ListHit,
    ListSnapshot,
    ListStore,
    load_list,
)

# How often the services check list files for changes (mtime): an approved
# removal or a new list file is live within this many seconds, without a restart.
LIST_POLL_INTERVAL_S = 2.0

__all__ = [
    "EXCLUDED",
    "LIST_POLL_INTERVAL_S",
    "BlockList",
    "EntryTable",
    "Interval",
    "ListEntry",
    "ListHit",
    "ListSnapshot",
    "ListStore",
    "NetworkSet",
    "load_list",
    "parse_text",
    "write_atomic",
]
