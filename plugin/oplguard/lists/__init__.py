"""Local block lists: file formats, the NetworkSet index and the swapping ListStore.

Pure apart from ``store`` reading and atomically rewriting list files.
"""

from __future__ import annotations

from oplguard.lists.edit import write_atomic
from oplguard.lists.formats import FORMATS, EntryTable, ListEntry, parse_text
from oplguard.lists.ipset import EXCLUDED, Interval, NetworkSet
from oplguard.lists.store import (
    BlockList,
    ListHit,
    ListSnapshot,
    ListStore,
    load_list,
)

__all__ = [
    "EXCLUDED",
    "FORMATS",
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
