"""The message body of one request: counted, optionally inflated, bounded."""

from __future__ import annotations

import zlib

from oplguard.spamd.messages import ProtocolFailure, bad_header, unavailable


class BodyReader:
    """Collects the body as it arrives, never holding more than ``max_bytes``.

    With a ``length`` it stops after that many wire bytes and ignores the rest
    (the Perl client's stray CRLF); without one it reads to EOF.  A compressed
    body is inflated as it arrives, so a zlib bomb never expands in memory
    beyond the limit.  Past the limit the body is cut (``truncated``) when the
    command only scans, or the request fails when the reply must echo it.
    """

    def __init__(self, length: int | None, compressed: bool, max_bytes: int, echo: bool) -> None:
        self.length = length
        self.max_bytes = max_bytes
        self.echo = echo
        self.received = 0
        self.kept = bytearray()
        self.truncated = False
        self.failure: ProtocolFailure | None = None
        self.inflater = zlib.decompressobj() if compressed else None
        if echo and length is not None and not compressed and length > max_bytes:
            self.failure = too_big(max_bytes)

    @property
    def complete(self) -> bool:
        """All declared bytes are here (only meaningful with a length)."""
        return self.length is not None and self.received >= self.length

    def feed(self, data: bytes) -> None:
        """Take wire bytes; bytes beyond the declared length are dropped."""
        if self.failure is not None or not data:
            return
        if self.length is not None:
            data = data[: max(self.length - self.received, 0)]
        self.received += len(data)
        if self.truncated:
            return
        if self.inflater is not None:
            try:
                data = self.inflater.decompress(data, self.room + 1)
            except zlib.error as err:
                self.failure = unavailable(f"zlib: {err}")
                return
        self._keep(data)

    @property
    def room(self) -> int:
        return self.max_bytes - len(self.kept)

    def _keep(self, data: bytes) -> None:
        if len(data) <= self.room:
            self.kept += data
            return
        if self.echo:
            self.failure = too_big(self.max_bytes)
            self.kept.clear()
            return
        self.kept += data[: self.room]
        self.truncated = True

    def finish(self) -> bytes | ProtocolFailure:
        """The body once the length is reached or the client closed."""
        if self.failure is not None:
            return self.failure
        if self.length is not None and self.received < self.length:
            expected, got = self.length, self.received
            return bad_header(
                f"(Content-Length mismatch: Expected {expected} bytes, got {got} bytes)"
            )
        if self.inflater is not None and not self.truncated and not self.inflater.eof:
            return unavailable("zlib: incomplete compressed stream")
        return bytes(self.kept)


def too_big(max_bytes: int) -> ProtocolFailure:
    """The answer to a message that must be echoed but exceeds the limit."""
    return unavailable(f"message larger than the {max_bytes} bytes allowed (max_message_bytes)")
