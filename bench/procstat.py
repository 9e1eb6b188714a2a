"""CPU time and memory of a server's whole process tree, read from /proc.

Servers that fork (spamd's children, rspamd's workers, oplguard with
``workers > 1``) spread their cost over several processes, and spamd
replaces a child after a number of connections.  The CPU of a tree is
therefore the live processes' own time plus the root's ``cutime/cstime``
(time of children it has already reaped).  Memory is reported both as the
sum of RSS (counts pages shared after fork once per process, so it
overstates forking servers) and as the sum of PSS (shares split fairly).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after it.
    return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def cpu_seconds(root: int) -> float:
    """User + system CPU of the tree, including children the root has reaped."""
    total = 0.0
    for pid in descendants(root):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        if pid == root:
            total += int(fields[13]) + int(fields[14])
    return total / CLOCK_TICKS


@dataclass(frozen=True)
class Memory:
    """Memory of a process tree in MB."""

    rss_mb: float
    pss_mb: float
    processes: int


def memory(root: int) -> Memory:
    rss = pss = 0.0
    pids = descendants(root)
    for pid in pids:
        try:
            text = (PROC / str(pid) / "smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            if key == "Rss":
                rss += int(rest.split()[0]) / 1024
            elif key == "Pss":
                pss += int(rest.split()[0]) / 1024
    return Memory(rss, pss, len(pids))
