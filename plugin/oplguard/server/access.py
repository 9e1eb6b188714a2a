"""``allowed_ips`` of a listening service: peers outside it get no answer at all.

The config holds canonical text (config/netparse.py): an address, a CIDR
network, or a ``first-last`` range; a range is turned into the few CIDR
networks that cover exactly it, so every address in it is admitted.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Mail hosts talk to the service from a handful of addresses: their answers are
# kept (the list is rebuilt, and so emptied, on reload), up to this many.
ACCESS_CACHE_SIZE = 1024


def networks_of(text: str) -> tuple[Network, ...]:
    """The networks of one ``allowed_ips`` item: ``IP``, ``NET/LEN`` or ``FIRST-LAST``.

    Raises:
        ValueError: not one of these forms.
    """
    if "-" in text:
        first_text, _, last_text = text.partition("-")
        first = ipaddress.ip_address(first_text.strip())
        last = ipaddress.ip_address(last_text.strip())
        if first.version != last.version or last < first:  # type: ignore[operator]
            raise ValueError(f"bad range {text!r}: from the lower to the higher address")
        return tuple(ipaddress.summarize_address_range(first, last))
    return (ipaddress.ip_network(text.strip(), strict=False),)


class AccessList:
    """The allowed networks, with a bounded cache of answers per peer address."""

    def __init__(self, items: tuple[str, ...]) -> None:
        self.networks = tuple(net for text in items for net in networks_of(text))
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
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)
