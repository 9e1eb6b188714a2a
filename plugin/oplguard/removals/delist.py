"""Taking an approved request's IP off the list files: the edits, not the decision.

Small lists lose the line listing exactly the IP (other lines stay byte for
byte); a covered IP, and every IP on a large list, gets an exclusion line.
Blocking: list files.  The caller holds the lists' locks.
"""

from __future__ import annotations

from datetime import UTC, datetime

from oplguard.lists.block import ListHit
from oplguard.lists.store import ListStore
from oplguard.removals.model import RemovalRequest

# Steps per list: an exact entry inside a listed network takes two (remove
# the line, then exclude the address from the network); one more to be sure.
MAX_STEPS_PER_LIST = 3


def delist(lists: ListStore, request: RemovalRequest, now: float) -> list[str]:
    """Edit every list that holds the request's IP so that none does; what changed, per step.

    Raises:
        ListError: a list file cannot be read or written.
    """
    when = datetime.fromtimestamp(now, UTC)
    outcome: list[str] = []
    for config in lists.configs:
        for _ in range(MAX_STEPS_PER_LIST):
            block = lists.snapshot.get(config.name)
            entry = None if block is None else block.lookup(request.ip, when)
            if entry is None:
                break
            text, is_final = _step(lists, ListHit(config.name, config.category, entry), request)
            outcome.append(text)
            if is_final:  # an exclusion takes the address off whatever else lists it
                break
    if not outcome:
        outcome.append(f"{request.ip} was no longer listed; nothing to change")
    return outcome


def _step(lists: ListStore, hit: ListHit, request: RemovalRequest) -> tuple[str, bool]:
    """One edit: what it changed, and whether it was an exclusion (the last step)."""
    network = hit.entry.network
    reason = f"delisted by removal request {request.id}"
    if lists.is_large(hit.list_name):
        line = lists.exclude(hit.list_name, request.ip, reason)
        return f"excluded {request.ip} from {hit.list_name} (appended {line.split()[0]})", True
    if network == request.ip:
        lists.remove_entry(hit.list_name, request.ip)
        return f"removed {network} from {hit.list_name} (was line {hit.entry.line})", False
    lists.add_entry(hit.list_name, request.ip, reason, is_exclusion=True)
    return f"excluded {request.ip} from {hit.list_name} (inside listed {network})", True
