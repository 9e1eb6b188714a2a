"""Connection limits of ``oplguard web`` that uvicorn lacks: header deadline, per-client cap.

uvicorn's h11 protocol waits for request headers as long as they trickle in
and takes any number of connections from one address, up to its global
``limit_concurrency``.  ``guarded_protocol`` gives it a whole-header deadline
(408 and close) and a cap on open connections per client address (503 and
close, at once), so one peer cannot hold the slots of others.  The body
deadline is applied where bodies are read (``security.read_body``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("oplguard.web")


def _raw_response(status: str, message: str, extra: str = "") -> bytes:
    body = message.encode() + b"\n"
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"connection: close\r\n{extra}content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def guarded_protocol(header_timeout_s: float, per_client: int) -> type[H11Protocol]:
    """An H11Protocol class with the two limits; one open-connection count per class."""
    open_by_client: Counter[str] = Counter()
    timeout_reply = _raw_response(
        "408 Request Timeout", f"request headers not complete within {header_timeout_s:g} s"
    )
    busy_reply = _raw_response(
        "503 Service Unavailable",
        f"more than {per_client} connections from your address; try again later",
        "retry-after: 5\r\n",
    )

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _counted: str | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            address = self.client[0] if self.client else "unknown"
            if open_by_client[address] >= per_client:
                log.warning("web: refused a connection from %s: %d open", address, per_client)
                transport.write(busy_reply)
                transport.close()
                return
            open_by_client[address] += 1
            self._counted = address
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._counted is not None:
                open_by_client[self._counted] -= 1
                if open_by_client[self._counted] <= 0:
                    del open_by_client[self._counted]
                self._counted = None
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # the headers of this request are complete

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection gets its own deadline

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout_s, self._header_timeout)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if self.transport.is_closing():
                return
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is being served: its body has its own deadline
            address = self.client[0] if self.client else "unknown"
            log.warning("web: %s sent no complete request within %g s", address, header_timeout_s)
            self.transport.write(timeout_reply)
            self.transport.close()

    return GuardedH11Protocol
