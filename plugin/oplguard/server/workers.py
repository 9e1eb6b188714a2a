"""Running the server: one process, or ``[server] workers = N`` pre-forked ones.

A Python process scores on one core.  With ``workers > 1`` the parent binds
every listener once and forks N workers that accept on the shared sockets,
as spamd's pre-forked children do (SO_REUSEPORT would not cover unix
sockets).  Each worker is a complete ``Server``: own lists, own reload on
SIGHUP.  The parent forwards signals (HUP, USR1/USR2), replaces a worker that
dies, and answers the control socket by asking every worker
(control/relay.py: each worker has its own socket next to the configured one).
uvloop (a default dependency where it installs) runs the event loop; asyncio's otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import selectors
import signal
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

from oplguard.config.loader import MAX_WORKERS
from oplguard.config.model import Config, Listener
from oplguard.control.relay import ControlRelay, Worker, worker_socket
from oplguard.control.server import ControlSocketError
from oplguard.errors import ConfigError
from oplguard.levelnames import LIFECYCLE_LOGGER
from oplguard.netparse import parse_listen
from oplguard.observability.merged import serve_merged
from oplguard.server import activation
from oplguard.server.listeners import claim_unix_path, in_use_error
from oplguard.server.sidecar import Sidecar

log = logging.getLogger("oplguard.server")
# Start, listen, reload, stop: INFO, shown at every log_level (levelnames.py).
lifecycle = logging.getLogger(LIFECYCLE_LOGGER)
# spamd's default listen backlog (Net::Server); a burst waits here, not in SYN retries.
LISTEN_BACKLOG = 128
# A worker that dies this soon after its start is not restarted at once:
# a broken config or port would otherwise fork in a tight loop.
RESPAWN_MIN_LIFETIME_S = 5.0
RESPAWN_DELAY_S = 1.0
# The parent's wait loop wakes on signals and control requests; this is only a backstop.
WAKE_INTERVAL_S = 1.0
# Signals the parent passes on to every worker (TERM and INT also stop the parent).
FORWARDED = (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def worker_count(configured: int) -> int:
    """``0`` means one worker per CPU."""
    return configured if configured > 0 else os.cpu_count() or 1


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when installed, else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(coro: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` with uvloop when available."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(coro)


async def _serve(cfg: Config, listeners: tuple[Listener, ...] | None, inherited: Any) -> None:
    from oplguard.server.lifecycle import Server

    server = Server(cfg, listeners)
    server.inherited = inherited
    server.install_signals()
    await server.serve()


def serve(cfg: Config, listeners: tuple[Listener, ...] | None = None) -> int:
    """``oplguard serve``: one process, or pre-forked workers (``[server] workers``)."""
    count = worker_count(cfg.server.workers)
    if count == 1:
        # systemd socket activation: sockets handed over are served, not bound (activation.py)
        run(_serve(cfg, listeners, activation.inherited(listeners or cfg.server.listen)))
        return 0
    return Supervisor(cfg, listeners or cfg.server.listen, count).run()


def bind(listener: Listener, unix_mode: int) -> socket.socket:
    """A listening socket for ``listener``, made before the workers fork.

    Raises:
        ConfigError: the address is taken (server/listeners.py).
    """
    try:
        return _bind(listener, unix_mode)
    except OSError as err:
        raise in_use_error(listener, err) from err


def _bind(listener: Listener, unix_mode: int) -> socket.socket:
    if listener.kind == "unix":
        path = Path(listener.path)
        claim_unix_path(listener)  # a stale socket from a previous run; never a live one
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        os.chmod(path, unix_mode)
    elif listener.host in ("*", "") and socket.has_dualstack_ipv6():
        # Every interface, both families, as asyncio.start_server(None, port) does.
        sock = socket.create_server(
            ("", listener.port), family=socket.AF_INET6, dualstack_ipv6=True, backlog=LISTEN_BACKLOG
        )
    else:
        host = "" if listener.host in ("*", "") else listener.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, listener.port), family=family, backlog=LISTEN_BACKLOG)
    sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


class Supervisor:
    """The parent of the workers: binds, forks, forwards signals, replaces the dead,
    relays the control socket."""

    def __init__(self, cfg: Config, listeners: tuple[Listener, ...], count: int) -> None:
        if count > MAX_WORKERS:
            raise ValueError(f"{count} workers is over the limit of {MAX_WORKERS}")
        self.cfg = cfg
        self.listeners = listeners
        self.count = count
        self.children: dict[int, tuple[int, float]] = {}  # pid -> (slot, started)
        self.stopping = False
        self.sockets: dict[Listener, socket.socket] = {}
        self.relay: ControlRelay | None = None
        self.scrapes: WSGIServer | None = None  # [metrics] listen, merged over the workers
        self.sidecar: Sidecar | None = None  # serves the two above, off the wait loop
        self.lock = threading.Lock()  # children and unsynced: the sidecar reads them too
        self.wake: tuple[int, int] | None = None  # self-pipe for signal.set_wakeup_fd
        # Slots of workers started in place of dead ones, still to get the live levels.
        self.unsynced: set[int] = set()

    def run(self) -> int:
        mode = self.cfg.server.unix_socket_mode
        self.relay = self._open_relay()  # first: a live instance on it is refused untouched
        try:
            self.sockets = {listener: bind(listener, mode) for listener in self.listeners}
        except ConfigError:
            if self.relay is not None:
                self.relay.close()
            raise
        for listener in self.listeners:
            lifecycle.info("listening on %s with %d workers", listener, self.count)
        self.scrapes = self._open_metrics()
        sidecar = Sidecar(self.relay, self.scrapes, self.workers, self._sync_new_workers)
        self.sidecar = sidecar
        self.wake = os.pipe()
        for fd in self.wake:
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.wake[1])
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # wakes the loop
        for signum in FORWARDED:
            signal.signal(signum, self._forward)
        gc.freeze()  # keep the parent's objects out of the workers' copy-on-write pages
        try:
            for slot in range(self.count):
                self._spawn(slot)
            sidecar.start()
            self._wait_loop()
        finally:
            sidecar.stop()
            signal.set_wakeup_fd(-1)
            self._close_parent_files()
            for listener, sock in self.sockets.items():
                sock.close()
                if listener.kind == "unix":
                    with contextlib.suppress(FileNotFoundError):
                        Path(listener.path).unlink()
        return 0

    def _open_relay(self) -> ControlRelay | None:
        if not self.cfg.control_socket:
            return None
        try:
            relay = ControlRelay(Path(self.cfg.control_socket))
        except ControlSocketError as err:
            log.error("%s; log-level/trace/status are unavailable (scoring continues)", err)
            return None
        lifecycle.info("control socket on %s (mode 0600), relayed to every worker", relay.path)
        return relay

    def _open_metrics(self) -> WSGIServer | None:
        """Scrapes of ``[metrics] listen`` are answered here, summed over every worker.

        Needs the workers' control sockets; without ``control_socket`` the first
        worker binds the port as it would alone (its own counters only).
        """
        listen = self.cfg.metrics.listen
        if not listen or self.relay is None:
            return None
        _kind, host, port, _path = parse_listen(listen)
        try:
            server = serve_merged(host, port, self._worker_metrics)
        except OSError as err:
            log.error("metrics: cannot listen on %s: %s (scoring continues)", listen, err)
            return None
        lifecycle.info("metrics on http://%s:%d/metrics, summed over the workers", host, port)
        return server

    def _worker_metrics(self) -> list[str]:
        assert self.relay is not None
        answers = self.relay.gather({"cmd": "metrics"}, self.workers())
        for answer in answers:
            if answer.reply is None:
                log.warning("metrics: worker %d left out: %s", answer.worker.slot, answer.error)
        return [str(a.reply["text"]) for a in answers if a.reply is not None]

    def _close_parent_files(self) -> None:
        """The relay and metrics sockets and the wake pipe: the parent's own, closed in a
        new worker too."""
        if self.relay is not None:
            self.relay.sock.close()
        if self.scrapes is not None:
            self.scrapes.socket.close()
        if self.wake is not None:
            for fd in self.wake:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.wake = None

    def _worker_config(self, slot: int) -> Config:
        """The worker's config: its own control socket next to the configured one, and no
        metrics port when the parent serves it."""
        if not self.cfg.control_socket:
            return self.cfg
        path = worker_socket(Path(self.cfg.control_socket), slot)
        metrics = self.cfg.metrics
        if self.scrapes is not None:
            metrics = dataclasses.replace(metrics, listen="")
        return dataclasses.replace(self.cfg, control_socket=str(path), metrics=metrics)

    def _spawn(self, slot: int) -> None:
        cfg = self._worker_config(slot)
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.set_wakeup_fd(-1)
                self._close_parent_files()
                if self.sidecar is not None:
                    self.sidecar.close_in_child()
                self.relay = self.scrapes = None  # nothing here may unlink or serve them
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
                    signal.signal(sig, signal.SIG_DFL)
                # Until the worker's loop takes them: a USR1/USR2 must not kill it.
                for sig in (signal.SIGUSR1, signal.SIGUSR2):
                    signal.signal(sig, signal.SIG_IGN)
                run(_serve(cfg, self.listeners, self.sockets))
            except BaseException:  # the worker ends here (os._exit), never in the parent code
                log.exception("worker %d failed", slot)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        with self.lock:
            self.children[pid] = (slot, time.monotonic())

    def workers(self) -> list[Worker]:
        with self.lock:
            running = list(self.children.items())
        return sorted(
            (Worker(slot, pid) for pid, (slot, _started) in running),
            key=lambda worker: worker.slot,
        )

    def _wait_loop(self) -> None:
        """Until every worker is gone: reap and replace (clients are the sidecar's)."""
        assert self.wake is not None
        wake_fd = self.wake[0]
        with selectors.DefaultSelector() as selector:
            selector.register(wake_fd, selectors.EVENT_READ, None)
            while self.children:
                if selector.select(WAKE_INTERVAL_S):
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_fd, 512)
                self._reap()
        if self.sidecar is not None:
            self.sidecar.stop()
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        if self.scrapes is not None:
            self.scrapes.server_close()
            self.scrapes = None

    def _sync_new_workers(self) -> None:
        """A replacement worker gets the levels and traces the live ones run with
        (in the sidecar thread)."""
        if self.relay is None or self.stopping:
            with self.lock:
                self.unsynced.clear()
            return
        with self.lock:
            pending = set(self.unsynced)
        for worker in self.workers():
            if worker.slot in pending:
                peers = [w for w in self.workers() if w.slot not in pending]
                if self.relay.sync(worker, peers):
                    with self.lock:
                        self.unsynced.discard(worker.slot)

    def _reap(self) -> None:
        """Collect every worker that ended; replace it unless the service is stopping."""
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                with self.lock:
                    self.children.clear()
                return
            if pid == 0:
                return
            with self.lock:
                slot, started = self.children.pop(pid, (-1, 0.0))
            if self.stopping or slot < 0:
                continue
            log.error(
                "worker %d (pid %d) ended with status %d; starting a new one",
                slot,
                pid,
                os.waitstatus_to_exitcode(status),
            )
            if time.monotonic() - started < RESPAWN_MIN_LIFETIME_S:
                time.sleep(RESPAWN_DELAY_S)
            if not self.stopping:
                self._spawn(slot)
                with self.lock:
                    self.unsynced.add(slot)

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        self._signal_all(signal.SIGTERM)

    def _forward(self, signum: int, frame: object) -> None:
        self._signal_all(signum)

    def _signal_all(self, signum: int) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
