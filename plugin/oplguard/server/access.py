"""``allowed_ips`` of a listening service: peers outside it get no answer at all.

The config holds canonical text (config/netparse.py): an address, a CIDR
network, or a ``first-last`` range; all are read by ipaddr.py into one
``SpanSet``, so every address of a range is admitted.
"""

from __future__ import annotations

from oplguard.ipaddr import SpanSet, observed_value

# Mail hosts talk to the service from a handful of addresses: their answers are
# kept (the list is rebuilt, and so emptied, on reload), up to this many.
ACCESS_CACHE_SIZE = 1024


class AccessList:
    """The allowed networks, with a bounded cache of answers per peer address."""

    def __init__(self, items: tuple[str, ...]) -> None:
        self.spans = SpanSet.parse(items)
        self.known: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        answer = self.known.get(host)
        if answer is None:
            answer = self._allows(host)
            if len(self.known) >= ACCESS_CACHE_SIZE:
                self.known.clear()  # a scan of many sources: start over, stay bounded
            self.known[host] = answer
        return answer

    def _allows(self, host: str) -> bool:
        # The peer address comes from the OS: a zone id names its own interface.
        try:
            version, value = observed_value(host)
        except ValueError:
            return False
        return self.spans.contains_value(version, value)
