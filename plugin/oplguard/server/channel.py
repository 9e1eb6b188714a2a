"""Byte channels for one client connection: plain stream or TLS over memory BIOs.

TLS is done with ``ssl.MemoryBIO`` rather than asyncio's SSL transport:
spamc sends TLS close_notify right after the body and only then reads the
reply, and asyncio's stock transport starts its own shutdown when it sees
close_notify (CPython ``Lib/asyncio/sslproto.py``), so the reply could not be
written.  Here close_notify is just end-of-input and writing still works.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Protocol

READ_CHUNK_BYTES = 65536
# After the reply, unread client bytes would make the kernel answer the
# client's next packet with a reset, which can destroy the reply before the
# client reads it (an early error, a busy answer).  So the server sends its
# FIN first and reads what is left for a short, bounded while.
LINGER_S = 2.0
LINGER_BYTES = 1 << 20


class Channel(Protocol):
    """What the connection handler needs from a socket."""

    async def read(self) -> bytes:
        """The next chunk of plaintext; ``b""`` at end of input."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class PlainChannel:
    """A TCP or Unix stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read(self) -> bytes:
        return await self.reader.read(READ_CHUNK_BYTES)

    async def write(self, data: bytes) -> None:
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, OSError, TimeoutError):
            # A client that has half-closed and whose bytes are all read (spamc does that)
            # can send nothing more to be reset by: no linger needed.
            if (
                self.writer.can_write_eof()
                and not self.writer.is_closing()
                and not self.reader.at_eof()
            ):
                self.writer.write_eof()
                async with asyncio.timeout(LINGER_S):
                    budget = LINGER_BYTES
                    while budget > 0 and (chunk := await self.reader.read(READ_CHUNK_BYTES)):
                        budget -= len(chunk)
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


class TlsChannel(PlainChannel):
    """Implicit TLS (``spamc --ssl``) over a plain stream."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext
    ) -> None:
        super().__init__(reader, writer)
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.at_eof = False

    async def _flush(self) -> None:
        pending = self.outgoing.read()
        if pending:
            self.writer.write(pending)
            await self.writer.drain()

    async def _fill(self) -> bool:
        """Feed the TLS engine more ciphertext; False at raw end of input."""
        await self._flush()
        raw = await self.reader.read(READ_CHUNK_BYTES)
        if not raw:
            self.incoming.write_eof()
            return False
        self.incoming.write(raw)
        return True

    async def handshake(self) -> None:
        """Complete the server handshake.

        Raises:
            ConnectionError: the peer went away or spoke no TLS.
        """
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if not await self._fill():
                    raise ConnectionError("peer closed during the TLS handshake") from None
            except ssl.SSLError as err:
                await self._flush()
                raise ConnectionError(f"TLS handshake failed: {err.reason or err}") from err
        await self._flush()

    async def read(self) -> bytes:
        while not self.at_eof:
            try:
                return self.tls.read(READ_CHUNK_BYTES)
            except ssl.SSLWantReadError:
                if not await self._fill():
                    self.at_eof = True
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                self.at_eof = True  # close_notify: input is over, output is not
            except ssl.SSLError as err:
                raise ConnectionError(f"TLS error: {err.reason or err}") from err
        return b""

    async def write(self, data: bytes) -> None:
        if data:
            self.tls.write(data)
            await self._flush()

    async def close(self) -> None:
        # The peer may not answer our close_notify; we close anyway.
        with contextlib.suppress(ssl.SSLError):
            self.tls.unwrap()
        with contextlib.suppress(ConnectionError, OSError):
            await self._flush()
        await super().close()
