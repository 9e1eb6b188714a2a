"""SpamdConnection: the sans-io spamd request parser.

Bytes in (``receive_data``; ``b""`` means the client closed its side), one
event out (``next_event``): a ``Request``, a ``ProtocolFailure`` or
``NEED_DATA``.  One request per connection, as spamd.  This module never
touches a socket or an event loop; the transport in ``server/`` feeds it.
"""

from __future__ import annotations

import re
from enum import Enum, auto

from oplguard.spamd.body import BodyReader
from oplguard.spamd.messages import (
    ECHO_VERBS,
    NEED_DATA,
    NEWEST_VERSION,
    Limits,
    Marker,
    ProtocolFailure,
    Request,
    Verb,
    bad_header,
    unavailable,
)

# Version numbers of up to 9 digits: a longer one is a bad request line, not
# an int() of thousands of digits (which Python refuses with a ValueError).
_REQUEST_LINE = re.compile(rb"([A-Z_]+) SPAMC/(\d{1,9})\.(\d{1,9})")
_VERBS = {verb.value.encode(): verb for verb in Verb}
_DIGITS = re.compile(rb"\d+")
# A Content-length longer than this is refused before int(): 10**30 is still
# read (and fails as a length mismatch), 5,000 digits are not.
MAX_LENGTH_DIGITS = 64
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
# How much of a bad request line an error reply echoes.
MAX_ECHO_CHARS = 200

Event = Request | ProtocolFailure | Marker


class _State(Enum):
    REQUEST_LINE = auto()
    HEADERS = auto()
    BODY = auto()


class SpamdConnection:
    """Parses one spamd request from a byte stream."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._buffer = bytearray()
        self._eof = False
        self._state = _State.REQUEST_LINE
        self._event: Request | ProtocolFailure | None = None
        self._verb = Verb.PING
        self._version = NEWEST_VERSION
        self._headers: dict[bytes, bytes] = {}
        self._header_lines = 0
        self._body: BodyReader | None = None

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; ``b""`` means it closed its side."""
        if not data:
            self._eof = True
        elif self._body is not None:
            self._body.feed(data)
        else:
            self._buffer += data

    def next_event(self) -> Event:
        """The request or failure once known; ``NEED_DATA`` until then."""
        if self._event is None:
            self._event = self._advance()
        return NEED_DATA if self._event is None else self._event

    def _advance(self) -> Request | ProtocolFailure | None:
        while True:
            if self._state is _State.BODY:
                return self._body_event()
            line = self._line()
            if isinstance(line, ProtocolFailure) or line is None:
                return line
            if self._state is _State.REQUEST_LINE:
                outcome = self._request_line(line)
            else:
                outcome = self._header_line(line)
            if outcome is not None:
                return outcome

    def _line(self) -> bytes | ProtocolFailure | None:
        """The next line without its ending, a failure, or None to wait."""
        end = self._buffer.find(b"\n", 0, self.limits.max_line_bytes + 1)
        where = "request" if self._state is _State.REQUEST_LINE else "header"
        if end < 0:
            if len(self._buffer) > self.limits.max_line_bytes:
                return bad_header(f"({where} line longer than {self.limits.max_line_bytes} bytes)")
            if not self._eof:
                return None
            if self._state is _State.HEADERS:
                return bad_header("(EOF during headers)")
            if not self._buffer:
                return bad_header("(closed before headers)")
            end = len(self._buffer)  # Perl's readline returns a last partial line
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def _request_line(self, line: bytes) -> Request | ProtocolFailure | None:
        match = _REQUEST_LINE.fullmatch(line)
        verb = _VERBS.get(match.group(1)) if match else None
        if match is None or verb is None or int(match.group(2)) != 1:
            return bad_header(_echo(line))
        self._verb = verb
        self._version = min((1, int(match.group(3))), NEWEST_VERSION)
        if self._has_headers():
            self._state = _State.HEADERS
            return None
        if verb in (Verb.PING, Verb.SKIP):
            return Request(verb, self._version)
        return self._start_body()

    def _has_headers(self) -> bool:
        if self._verb is Verb.TELL:
            return True
        if self._verb in (Verb.PING, Verb.SKIP):
            return self._version >= (1, 5)
        return self._version > (1, 0)

    def _header_line(self, line: bytes) -> Request | ProtocolFailure | None:
        if not line:
            if self._verb in (Verb.PING, Verb.SKIP):
                return Request(self._verb, self._version)
            return self._start_body()
        self._header_lines += 1
        if self._header_lines > self.limits.max_header_lines:
            return bad_header("(too many headers)")
        name, colon, value = line.partition(b":")
        if not colon:
            return bad_header("(header not in 'Name: value' format)")
        # Names are matched case-insensitively (spamd: exact case) and the
        # last of a repeated header wins, as in spamd.
        self._headers[name.strip().lower()] = value.strip(b" \t")
        return None

    def _start_body(self) -> ProtocolFailure | Request | None:
        headers = self._headers
        length: int | None = None
        raw_length = headers.get(b"content-length")
        if raw_length:
            if not _DIGITS.fullmatch(raw_length):
                return bad_header("(Content-Length contains non-numeric bytes)")
            if len(raw_length) > MAX_LENGTH_DIGITS:
                return bad_header(f"(Content-Length longer than {MAX_LENGTH_DIGITS} digits)")
            length = int(raw_length)
        user = headers.get(b"user")
        if user is not None and _CONTROL.search(user):
            return bad_header("(User header contains control chars)")
        compress = headers.get(b"compress")
        compressed = compress is not None
        if compress is not None and b"zlib" not in compress.lower():
            return bad_header(f"(compression type not supported: {_echo(compress)})")
        if compressed and length is None:
            return unavailable("Compress requires Content-length header")
        conflict = self._tell_conflict()
        if conflict is not None:
            return conflict
        self._state = _State.BODY
        echo = self._verb in ECHO_VERBS
        self._body = BodyReader(length, compressed, self.limits.max_body_bytes, echo)
        self._body.feed(bytes(self._buffer))
        self._buffer.clear()
        return self._body_event()

    def _tell_conflict(self) -> ProtocolFailure | None:
        if self._verb is not Verb.TELL:
            return None
        for target in ("local", "remote"):
            if self._flag(b"set", target) and self._flag(b"remove", target):
                return bad_header(
                    f"Unable to set {target} and remove {target} in the same operation."
                )
        return None

    def _flag(self, header: bytes, target: str) -> bool:
        return target.encode() in self._headers.get(header, b"").lower()

    def _body_event(self) -> Request | ProtocolFailure | None:
        body = self._body
        assert body is not None
        if body.failure is not None:
            return body.failure
        if not (body.complete or self._eof):
            return None
        outcome = body.finish()
        if isinstance(outcome, ProtocolFailure):
            return outcome
        return self._request(outcome, body)

    def _request(self, message: bytes, body: BodyReader) -> Request:
        headers = self._headers
        user = headers.get(b"user")
        message_class = headers.get(b"message-class")
        return Request(
            verb=self._verb,
            version=self._version,
            body=message,
            user=user.decode("utf-8", "replace") if user is not None else None,
            content_length=body.length,
            compressed=body.inflater is not None,
            body_truncated=body.truncated,
            message_class=None if message_class is None else _message_class(message_class),
            set_local=self._flag(b"set", "local"),
            set_remote=self._flag(b"set", "remote"),
            remove_local=self._flag(b"remove", "local"),
            remove_remote=self._flag(b"remove", "remote"),
        )


def _message_class(value: bytes) -> str:
    """spamd: exactly ``spam`` is spam, anything else is ham."""
    return "spam" if value == b"spam" else "ham"


def _echo(raw: bytes) -> str:
    """A client's bytes, made safe to put in a one-line reply or log."""
    text = raw[:MAX_ECHO_CHARS].decode("latin-1")
    return "".join(char if " " <= char <= "~" else "?" for char in text)


__all__ = ["SpamdConnection"]
