"""The supervisor's clients, off its wait loop: control relay, merged scrapes, worker sync.

With ``[server] workers > 1`` the parent must reap and replace a dead worker
at once, whatever a client does.  So the clients the parent answers itself
(the control socket it relays to every worker, the ``[metrics] listen``
scrapes it merges) are served by this one thread, each within a total
deadline from accept (a peer trickling one byte at a time is cut off), and
the wait loop only waits for signals and children.

A worker forked while a client is being served must not keep that client's
socket open: ``open_clients`` lists them, and the new worker closes them.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Callable, Sequence
from wsgiref.simple_server import WSGIServer

from oplguard.control.relay import ControlRelay, Worker

log = logging.getLogger("oplguard.server")

# A scrape or a control request, from accept to the last byte of the reply.
CLIENT_DEADLINE_S = 5.0
# The thread wakes this often to give replacement workers the live levels.
WAKE_INTERVAL_S = 1.0


class Sidecar:
    """One thread serving the parent's own clients until ``stop``."""

    def __init__(
        self,
        relay: ControlRelay | None,
        scrapes: WSGIServer | None,
        workers: Callable[[], Sequence[Worker]],
        sync: Callable[[], None],
    ) -> None:
        self.relay = relay
        self.scrapes = scrapes
        self.workers = workers
        self.sync = sync
        self.open_clients: set[socket.socket] = set()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="oplguard-sidecar", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(CLIENT_DEADLINE_S * 2)

    def close_in_child(self) -> None:
        """In a freshly forked worker: the parent's client sockets are not its own."""
        for conn in list(self.open_clients):
            with contextlib.suppress(OSError):
                conn.close()

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            if self.relay is not None:
                selector.register(self.relay.fileno(), selectors.EVENT_READ, self._control)
            if self.scrapes is not None:
                selector.register(self.scrapes.fileno(), selectors.EVENT_READ, self._scrape)
            while not self.done.is_set():
                for key, _events in selector.select(WAKE_INTERVAL_S):
                    try:
                        key.data()
                    except Exception:
                        log.exception("supervisor: serving a client failed")
                self.sync()

    def _control(self) -> None:
        assert self.relay is not None
        self.relay.serve_one(self.workers(), self.open_clients, CLIENT_DEADLINE_S)

    def _scrape(self) -> None:
        assert self.scrapes is not None
        try:
            conn, address = self.scrapes.socket.accept()
        except (BlockingIOError, InterruptedError):
            return
        self.open_clients.add(conn)
        # The WSGI handler reads with per-read timeouts; the deadline cuts a trickler off.
        timer = threading.Timer(CLIENT_DEADLINE_S, _cut, (conn,))
        timer.start()
        try:
            self.scrapes.finish_request(conn, address)
        except OSError as err:
            log.warning("metrics: scrape from %s cut off: %s", address[0], err or "deadline")
        finally:
            timer.cancel()
            self.open_clients.discard(conn)
            self.scrapes.shutdown_request(conn)


def _cut(conn: socket.socket) -> None:
    """End a client that is still there at its deadline (the blocked read returns)."""
    log.warning("supervisor: client not done within %gs; closing it", CLIENT_DEADLINE_S)
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
