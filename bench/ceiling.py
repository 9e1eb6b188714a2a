"""The ceiling: a fixed-reply spamd server (no parsing, no lookup) for comparison.

Run as ``python -m bench.ceiling PORT``.
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


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
