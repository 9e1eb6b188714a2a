"""Relays taken from originating-IP headers (relay-chain.md §7), within their limits.

Pure.  SpamAssassin reads the first IP of the last such header; we read up to
``MAX_ORIGINATING_IPS_PER_HEADER`` of each and ``MAX_ORIGINATING_IPS`` in all.
"""

from __future__ import annotations

from collections.abc import Iterator

from oplguard.mail.addresses import IP_ADDRESS_RE, canonical_ip
from oplguard.mail.headers import Header
from oplguard.mail.limits import (
    MAX_EVIDENCE_CHARS,
    MAX_ORIGINATING_IPS,
    MAX_ORIGINATING_IPS_PER_HEADER,
    Cut,
)
from oplguard.mail.received import Relay


def originating_relays(
    fields: tuple[Header, ...], names: tuple[str, ...], cuts: list[Cut] | None = None
) -> Iterator[tuple[Relay, str]]:
    """Synthetic relays for the IPs in originating-IP headers (relay-chain.md §7).

    SA takes the first IP of the last occurrence only; we take up to
    ``MAX_ORIGINATING_IPS_PER_HEADER`` IPs of each header and
    ``MAX_ORIGINATING_IPS`` in all, in the order of ``names``, then of the
    fields, then within each value.  The evidence text is one capped string
    per header, shared by its IPs.  What a limit leaves out goes to ``cuts``.
    """
    lowered = tuple(field_name.lower() for field_name, _value in fields)
    total = crowded = 0
    for name in names:
        wanted = name.lower()
        if wanted not in lowered:  # the common case: one C-level scan, no loop
            continue
        for (field_name, value), field_lower in zip(fields, lowered, strict=True):
            if field_lower != wanted:
                continue
            if total == MAX_ORIGINATING_IPS:
                _cut_originating(cuts, crowded, stopped=True)
                return
            raw = f"{field_name}: {value[:MAX_EVIDENCE_CHARS]}"[:MAX_EVIDENCE_CHARS]
            taken = 0
            for match in IP_ADDRESS_RE.finditer(value):
                ip = canonical_ip(match.group(0))
                if ip is None:
                    continue
                if taken == MAX_ORIGINATING_IPS_PER_HEADER or total == MAX_ORIGINATING_IPS:
                    crowded += 1
                    break
                taken += 1
                total += 1
                yield Relay(ip=ip), raw
    _cut_originating(cuts, crowded, stopped=False)


def _cut_originating(cuts: list[Cut] | None, crowded: int, *, stopped: bool) -> None:
    if cuts is None:
        return
    if crowded:
        cuts.append(
            Cut(
                "MAX_ORIGINATING_IPS_PER_HEADER",
                f"{crowded} originating-IP header(s) held more IPs than were taken",
            )
        )
    if stopped:
        cuts.append(
            Cut(
                "MAX_ORIGINATING_IPS",
                f"originating-IP headers beyond the first {MAX_ORIGINATING_IPS} IPs ignored",
            )
        )
