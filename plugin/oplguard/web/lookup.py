"""What the public lookup shows for one IP: each list's answer in plain words, with advice.

Pure: a list snapshot in, a JSON-ready dict out.  Allow-list entries and
sender groups are this site's business and are not shown to the public.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from oplguard.lists.block import ListSnapshot
from oplguard.web.advice import category_of


def ip_report(snapshot: ListSnapshot, ip: str, now: datetime) -> dict[str, Any]:
    """Every list's answer for the canonical address ``ip``."""
    lists = []
    advice: list[str] = []
    for block in snapshot.lists:
        cfg = block.config
        entry = block.lookup(ip, now)
        category = category_of(cfg.category)
        item: dict[str, Any] = {
            "list": cfg.name,
            "description": cfg.description,
            "category": cfg.category,
            "category_name": category.name,
            "listed": entry is not None,
        }
        if entry is not None:
            item |= {
                "category_meaning": category.meaning,
                "network": entry.network,
                "reason": entry.reason,
                "listed_since": entry.listed_since,
                "expires": entry.expires,
                "advice": list(category.advice),
            }
            advice += [text for text in category.advice if text not in advice]
        lists.append(item)
    return {
        "ip": ip,
        "version": ipaddress.ip_address(ip).version,
        "listed": any(item["listed"] for item in lists),
        "lists": lists,
        "advice": advice,
    }
