"""What oplguard knows about one IP: list entries, allow and block state.

Pure; shared by ``oplguard lookup`` and the lookup web page.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from oplguard.config.vocabulary import SCOPES
from oplguard.errors import InputError
from oplguard.mail.addresses import canonical_ip, is_skipped
from oplguard.policy.scanner import Scanner


def lookup_ip(scanner: Scanner, text: str, now: datetime) -> dict[str, Any]:
    """Every list's answer for ``text``, plus the sender-group view.

    Raises:
        InputError: ``text`` is not an IPv4 or IPv6 address.
    """
    ip = canonical_ip(text.strip())
    if ip is None:
        raise InputError(f"{text!r} is not an IPv4 or IPv6 address")
    snapshot = scanner.lists.snapshot
    found = {hit.list_name: hit for hit in scanner.lookup(ip, snapshot, now)}
    lists = []
    for block_list in snapshot.lists:
        cfg = block_list.config
        hit = found.get(cfg.name)
        lists.append(
            {
                "list": cfg.name,
                "category": cfg.category,
                "description": cfg.description,
                "listed": hit is not None,
                "reason": hit.entry.reason if hit else None,
                "listed_since": hit.entry.listed_since if hit else None,
                "expires": hit.entry.expires if hit else None,
            }
        )
    groups = [
        {
            "group": g.name,
            "enabled": g.enabled,
            "action": g.action,
            "listed_on": [name for name in g.lists if name in found],
        }
        for g in scanner.policy.groups
    ]
    allowed = [
        {
            "scope": scope,
            "network": entry.network,
            "comment": entry.comment,
            "expires": entry.expires.isoformat() if entry.expires else None,
        }
        for scope in SCOPES
        if (entry := scanner.policy.allow.match(ip, scope, now)) is not None
    ]
    blocked = scanner.blocked.match(ip, None, now)
    return {
        "ip": ip,
        "version": ipaddress.ip_address(ip).version,
        "skipped": is_skipped(ip),
        "listed": bool(found),
        "lists": lists,
        "blocked_sender": {"network": blocked.network, "comment": blocked.comment}
        if blocked
        else None,
        "groups": groups,
        "allowed": allowed,
    }
