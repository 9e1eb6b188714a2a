"""The ceiling: a fixed-reply spamd server (no parsing, no lookup) for comparison.

Run as ``python -m bench.ceiling PORT``: asyncio streams on asyncio's own event loop (the
ceiling of ``bench.run``).  ``python -m bench.ceiling PORT --floor``: a bare
``asyncio.Protocol`` on uvloop, the least that answering a connection costs here
(``bench.transport``).
"""

from __future__ import annotations

import asyncio
import sys

REPLY = b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.read()  # the client half-closes after the body
        writer.write(REPLY)
        await writer.drain()
    finally:
        writer.close()


class Floor(asyncio.Protocol):
    """The fixed reply once the client has half-closed, then close: no streams, no task."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        self.transport.write(REPLY)  # type: ignore[attr-defined]
        self.transport.close()
        return True


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


async def floor(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Floor, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if sys.argv[2:3] == ["--floor"]:
        import uvloop

        uvloop.run(floor(int(sys.argv[1])))
    else:
        asyncio.run(main(int(sys.argv[1])))
