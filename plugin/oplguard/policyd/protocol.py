"""Postfix policy delegation protocol (SMTPD_POLICY_README), sans-io.

Bytes in, requests out; a reply in, bytes out.  This module never imports
asyncio or socket: the server in ``policyd/server.py`` feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from oplguard.errors import LocalProtocolError, RemoteProtocolError

# Postfix writes "name=value\n" lines; the longest real values are SMTP paths
# (256 octets, RFC 5321 §4.5.3.1.3) and TLS/SASL fields.  Anything near this
# is not Postfix talking, and must not make us buffer without bound.
MAX_LINE_BYTES = 8192
# Postfix 3.7 sends about 30 attributes per request (SMTPD_POLICY_README).
MAX_ATTRIBUTES = 256
# The only request type Postfix defines (SMTPD_POLICY_README, "Protocol description").
REQUEST_TYPE = "smtpd_access_policy"


class Marker(Enum):
    """What ``next_event`` returns when it has no request to give."""

    NEED_DATA = "need data"
    CLOSED = "closed"


NEED_DATA = Marker.NEED_DATA
CLOSED = Marker.CLOSED


@dataclass(frozen=True, slots=True)
class PolicyRequest:
    """One policy query: the attributes in the order Postfix sent them."""

    attributes: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str = "") -> str:
        """The value of ``name`` (the last one if repeated), or ``default``."""
        for key, value in reversed(self.attributes):
            if key == name:
                return value
        return default


def render_reply(action: str) -> bytes:
    """``action=<action>`` and the empty line that ends the reply.

    Raises:
        LocalProtocolError: the action would break the line framing.
    """
    if not action or any(ord(char) < 0x20 or ord(char) == 0x7F for char in action):
        raise LocalProtocolError(f"policy action must be one printable line: {action!r}")
    return f"action={action}\n\n".encode()


class PolicyConnection:
    """Splits the byte stream of one Postfix connection into requests.

    Postfix keeps the connection open and sends one request per SMTP
    command it checks; each ends with an empty line.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.attributes: list[tuple[str, str]] = []
        self.at_eof = False

    @property
    def in_request(self) -> bool:
        """True once part of a request has arrived and its end has not."""
        return bool(self.attributes or self.buffer)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the socket; ``b""`` means the peer closed its side."""
        if not data:
            self.at_eof = True
        self.buffer += data

    def next_event(self) -> PolicyRequest | Marker:
        """The next complete request, ``NEED_DATA`` or ``CLOSED``.

        Raises:
            RemoteProtocolError: the peer broke the protocol or hung up in the
                middle of a request; the server must log it and disconnect
                without a reply (SMTPD_POLICY_README: "in case of trouble").
        """
        while True:
            end = self.buffer.find(b"\n")
            if end < 0:
                return self._without_line()
            line = bytes(self.buffer[:end]).removesuffix(b"\r")
            del self.buffer[: end + 1]
            if len(line) > MAX_LINE_BYTES:
                raise RemoteProtocolError(f"attribute line longer than {MAX_LINE_BYTES} bytes")
            if not line:
                return self._finish()
            self._add(line)

    def _without_line(self) -> Marker:
        if len(self.buffer) > MAX_LINE_BYTES:
            raise RemoteProtocolError(f"attribute line longer than {MAX_LINE_BYTES} bytes")
        if not self.at_eof:
            return NEED_DATA
        if self.in_request:
            raise RemoteProtocolError(
                f"peer closed the connection in the middle of a request "
                f"({len(self.attributes)} attributes read)"
            )
        return CLOSED

    def _add(self, line: bytes) -> None:
        name, sep, value = line.decode("utf-8", "replace").partition("=")
        if not sep or not name or not name.replace("_", "").isalnum():
            raise RemoteProtocolError(f"not a name=value line: {line[:80]!r}")
        if len(self.attributes) >= MAX_ATTRIBUTES:
            raise RemoteProtocolError(f"more than {MAX_ATTRIBUTES} attributes in one request")
        self.attributes.append((name, value))

    def _finish(self) -> PolicyRequest:
        if not self.attributes:
            raise RemoteProtocolError("empty request (a blank line without attributes)")
        request = PolicyRequest(tuple(self.attributes))
        self.attributes = []
        kind = request.get("request")
        if kind != REQUEST_TYPE:
            raise RemoteProtocolError(f"unknown request type {kind!r} (want {REQUEST_TYPE})")
        return request
