"""A spamd connection as a plain ``asyncio.Protocol`` (plain TCP and Unix listeners).

No streams: ``data_received`` feeds the sans-io parser (spamd/connection.py);
a complete request is answered by one task (the scan may yield the loop and
wait for DNS); the reply goes out with one ``transport.write``.  One timer per
connection replaces an ``asyncio.timeout`` per read: the request deadline
(``request_timeout_s`` from accept) while reading, the child deadline
(``child_timeout_s``) until the reply is written.

Admission stays the shell's (server/shell.py: ``allowed_ips``, the per-peer
cap, ``max_connections``) and so does shutdown: each connection is a future in
the shell's ``tasks``, done when the connection is closed and its scan over.
TLS listeners keep the stream path (server/transport.py, server/channel.py):
spamc's early close_notify needs the TLS engine over memory BIOs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from oplguard.config.model import Listener
from oplguard.errors import Status
from oplguard.policy.scanner import CURRENT_PEER
from oplguard.server.channel import LINGER_BYTES, LINGER_S
from oplguard.server.sockets import peer_of
from oplguard.server.transport import (
    BUSY_REPLY,
    SOFTWARE_ERROR,
    ConnectionSettings,
    child_timeout_reply,
    failure_reply,
)
from oplguard.spamd.connection import SpamdConnection
from oplguard.spamd.messages import NEED_DATA, ProtocolFailure, Request

if TYPE_CHECKING:
    from oplguard.server.lifecycle import Server

log = logging.getLogger("oplguard.protocol")

# Where a connection is.  READING: the request comes in (the request deadline runs);
# ANSWERING: the scan task runs; WRITING: the reply waits in the transport's buffer above
# its high-water mark; LINGERING: answered, our FIN sent; CLOSED.  After the request, what
# the peer still sends is read and dropped, LINGER_BYTES at most (then reading pauses):
# reading on needs no epoll change, and the peer's EOF (spamc half-closes after the body)
# is seen before the reply, so the reply is followed by a close, no FIN-and-linger.
READING, ANSWERING, WRITING, LINGERING, CLOSED = range(5)
# How long a busy answer or a timeout reply may wait for the peer to read it.
LATE_WRITE_S = 1.0


class SpamdProtocol(asyncio.Protocol):
    """One spamd connection: request in, one reply out, then a bounded linger and close."""

    def __init__(self, server: Server, listener: Listener, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.listener = listener
        self.loop = loop
        self.phase = READING
        self.peer = "-"
        self.key = ""  # the per-peer count this connection is in ("" = Unix: none)
        self.counted = False
        self.slot = False  # holds a scoring slot
        self.eof = False
        self.write_paused = False
        self.verb = "request"
        self.request_deadline = 0.0
        self.child_deadline = 0.0
        self.linger_budget = LINGER_BYTES
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None
        self.done: asyncio.Future[None] | None = None
        self.parser: SpamdConnection | None = None
        self.settings: ConnectionSettings | None = None
        self.transport: asyncio.Transport | None = None

    # Admission.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance here.
        self.transport = cast(asyncio.Transport, transport)
        server = self.server
        server.on_connection()
        host, self.peer = peer_of(transport, self.listener)
        if not server.allows(self.listener, host, self.peer):
            self.phase = CLOSED
            transport.close()
            return
        done = self.done = self.loop.create_future()
        server.tasks.add(done)
        done.add_done_callback(self._ended)
        self.key = host if self.listener.kind != "unix" else ""
        self.counted = True
        state, limits = server.state, server.limits
        why = state.enter_peer(self.key, limits.max_per_peer)
        if why is None:
            why = state.take_slot(limits.max_connections)
            self.slot = why is None
        if why is not None:
            server.log.warning(server.refused_line, self.peer, why)
            self._write(BUSY_REPLY)
            return
        settings = self.settings = server.settings
        self.parser = SpamdConnection(settings.limits)
        accepted = self.loop.time()
        self.request_deadline = accepted + settings.request_timeout_s
        self.child_deadline = accepted + settings.child_timeout_s
        first = min(self.request_deadline, self.child_deadline)
        self.timer = self.loop.call_at(first, self._expired)

    # Reading.

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if self.phase == READING and parser is not None:  # None: refused, never read
            parser.receive_data(data)
            event = parser.next_event()
            if event is not NEED_DATA:
                assert isinstance(event, Request | ProtocolFailure)
                self._received(event)
        else:
            self._drop(data)

    def _drop(self, data: bytes) -> None:
        """Bytes after the request: counted, never kept; past the budget, enough."""
        self.linger_budget -= len(data)
        if self.linger_budget > 0 or self.transport is None:
            return
        if self.phase == LINGERING:
            self.transport.close()
        else:
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        if self.phase == READING and self.parser is not None:
            self.parser.receive_data(b"")
            event = self.parser.next_event()
            assert isinstance(event, Request | ProtocolFailure)  # at EOF it is one or the other
            self._received(event)
        elif self.phase == LINGERING and self.transport is not None:
            self.transport.close()
        return True  # keep our side open: the reply may still be on its way

    def _received(self, event: Request | ProtocolFailure) -> None:
        """The request is in (or failed): answer."""
        assert self.settings is not None
        if isinstance(event, ProtocolFailure):
            self._write(failure_reply(event, self.peer, self.settings))
            return
        self.verb = event.verb.value
        self.phase = ANSWERING
        with self.server.capture():  # the task copies the context: its trace buffer
            task = self.task = self.loop.create_task(self._answer(event))
        task.add_done_callback(self._scanned)

    async def _answer(self, request: Request) -> None:
        CURRENT_PEER.set(self.peer)
        if log.isEnabledFor(logging.DEBUG):  # in the task: a trace buffers it (server.capture)
            log.debug(
                "request peer=%s verb=%s version=%d.%d bytes=%d",
                self.peer,
                self.verb,
                request.version[0],
                request.version[1],
                len(request.body),
            )
        try:
            reply = await self.server.service.respond(request)
        except TimeoutError:
            self._child_timeout()
            return
        except (ConnectionError, OSError) as err:
            log.info("connection from %s ended early: %s", self.peer, err)
            self._answered()
            return
        except Exception:
            log.exception("internal error while serving %s", self.peer)
            reply = SOFTWARE_ERROR
        self._write(reply)

    # Deadlines.

    def _expired(self) -> None:
        """The connection's timer: the request or the child deadline has passed."""
        self.timer = None
        now = self.loop.time()
        if self.phase == READING:
            assert self.settings is not None
            if now >= self.request_deadline:
                timeout = ProtocolFailure(Status.EX_TIMEOUT, "")
                self._write(failure_reply(timeout, self.peer, self.settings))
            else:
                self._child_timeout()
        elif now < self.child_deadline:  # it was the request deadline; the request is in
            self.timer = self.loop.call_at(self.child_deadline, self._expired)
        elif self.phase == ANSWERING:
            if self.task is not None:
                self.task.cancel()
            self._child_timeout()
        elif self.phase == WRITING and self.transport is not None:
            # The peer does not read its reply: nothing more can reach it.
            log.warning("timeout peer=%s: reply not read; connection aborted", self.peer)
            self.transport.abort()

    def _child_timeout(self) -> None:
        assert self.settings is not None
        seconds = int(self.settings.child_timeout_s)
        log.warning("timeout peer=%s: %ds while trying to %s", self.peer, seconds, self.verb)
        self._write(child_timeout_reply(seconds, self.verb))

    # Writing, lingering, closing.

    def _write(self, reply: bytes) -> None:
        """Send the one reply (a later one, from a cancelled scan, is dropped)."""
        transport = self.transport
        if self.phase > ANSWERING or transport is None or transport.is_closing():
            return
        self.phase = WRITING
        if self.timer is None:  # a busy answer, or a reply after a deadline: a short while
            self.child_deadline = self.loop.time() + LATE_WRITE_S
            self.timer = self.loop.call_at(self.child_deadline, self._expired)
        transport.write(reply)
        if not self.write_paused:
            self._answered()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.phase == WRITING:
            self._answered()

    def _answered(self) -> None:
        """The reply is handed over: give the slot back, send our FIN, read what is left
        for a bounded while (server/channel.py's LINGER_S), then close."""
        self._cancel_timer()
        self._release_slot()
        transport = self.transport
        if self.phase >= LINGERING or transport is None:
            return
        self.phase = LINGERING
        if (
            self.eof
            or self.linger_budget <= 0
            or not transport.can_write_eof()
            or transport.is_closing()
        ):
            transport.close()
            return
        transport.write_eof()
        self.timer = self.loop.call_later(LINGER_S, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.phase < LINGERING:
            log.info("connection from %s ended early: %s", self.peer, exc)
        self.phase = CLOSED
        self._cancel_timer()
        self._settle()

    def _scanned(self, task: asyncio.Task[None]) -> None:
        if self.phase == ANSWERING and task.cancelled():  # cancelled from outside
            self._answered()
        self._settle()

    def _settle(self) -> None:
        """Once closed and the scan is over: the slot, the per-peer count, the shell's future."""
        if self.phase != CLOSED or (self.task is not None and not self.task.done()):
            return
        self._release_slot()
        if self.counted:
            self.counted = False
            self.server.state.leave(self.key)
        if self.done is not None and not self.done.done():
            self.done.set_result(None)

    def _ended(self, done: asyncio.Future[None]) -> None:
        """The shell's future is done: dropped from ``tasks``; cancelled (shutdown after its
        grace period): abort the connection and its scan."""
        self.server.tasks.discard(done)
        if not done.cancelled():
            return
        if self.task is not None:
            self.task.cancel()
        if self.transport is not None:
            self.transport.abort()

    def _release_slot(self) -> None:
        if self.slot:
            self.slot = False
            self.server.state.busy -= 1

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
