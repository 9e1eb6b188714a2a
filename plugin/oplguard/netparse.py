"""Parse the address forms a config may hold: listen addresses and IP/CIDR/range.

IPs are read by ipaddr.py, like everywhere else.  Pure; raises ValueError
with a short reason, which callers wrap in ConfigError.
"""

from __future__ import annotations

import ipaddress

import netaddr

from oplguard.ipaddr import V4_VERSION, parse_span, span_networks, span_text

MAX_PORT = 65535


def parse_listen(text: str) -> tuple[str, str, int, str]:
    """``HOST:PORT``, ``[V6]:PORT``, ``tls:HOST:PORT`` or ``unix:PATH`` ->
    (kind, host, port, path)."""
    text = text.strip()
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if not path.startswith("/"):
            raise ValueError("a unix socket path must be absolute")
        return ("unix", "", 0, path)
    kind = "tcp"
    if text.startswith("tls:"):
        kind, text = "tls", text[len("tls:") :]
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise ValueError("an IPv6 address needs the form [::1]:783")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError("missing :PORT")
    if not port_text.isdigit() or not 0 <= int(port_text) <= MAX_PORT:
        raise ValueError(f"bad port {port_text!r}")
    if host not in ("localhost", "*"):
        ipaddress.ip_address(host)
    return (kind, host, int(port_text), "")


def parse_tcp_listen(text: str, why: str) -> tuple[str, int]:
    """A listen address that must be one plain ``HOST:PORT`` (not TLS, Unix or ``*``)
    -> (host, port).

    Raises:
        ValueError: not a listen address, or ``why`` for one of another kind.
    """
    kind, host, port, _path = parse_listen(text)
    if kind != "tcp" or host == "*":
        raise ValueError(why)
    return host, port


def parse_network(text: str) -> str:
    """Normalise an IP, CIDR, ``a-b`` range or IPv4 glob; the result is canonical text.

    Globs are the short forms admins bring from other filters' allow-lists:
    ``192.0.2.*``, ``192.0.*.*`` and ``192.0.2.10-20`` (an octet range);
    netaddr's glob parser turns them into a first-last range.
    """
    text = text.strip()
    if _is_glob(text):
        span = netaddr.glob_to_iprange(text)
        return f"{span[0]}-{span[-1]}" if span.first != span.last else str(span[0])
    version, first, last = parse_span(text)  # the one reading of IPs (ipaddr.py)
    if "-" in text:
        kind = ipaddress.IPv4Address if version == V4_VERSION else ipaddress.IPv6Address
        return f"{kind(first)}-{kind(last)}"
    if "/" in text:
        return str(span_networks((version, first, last))[0])
    return span_text((version, first, last))


def _is_glob(text: str) -> bool:
    """An IPv4 glob: ``*`` octets, or an ``a-b`` range inside one octet."""
    if ":" in text or text.count(".") != 3 or ("*" not in text and "-" not in text.split(".")[-1]):
        return False
    return bool(netaddr.valid_glob(text))
