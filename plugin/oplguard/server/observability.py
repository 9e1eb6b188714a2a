"""Wires tracking, metrics, log levels, tracing and the control socket into a running server.

The server calls ``start``/``stop``, counts connections and reloads here, and
registers ``on_scan`` as its scan hook.  Nothing here blocks the event loop:
the tracking writer and the metrics endpoint have their own threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import generate_latest

from oplguard import __version__
from oplguard.config.model import Config
from oplguard.control.server import ControlServer, ControlSocketError
from oplguard.levelnames import LIFECYCLE_LOGGER
from oplguard.lists.status import lists_status
from oplguard.netparse import parse_listen
from oplguard.observability.durations import parse_duration
from oplguard.observability.levels import Cancellable, LevelControl
from oplguard.observability.listmetrics import ListMetrics, ListState
from oplguard.observability.logsetup import gate_handlers
from oplguard.observability.metrics import Metrics
from oplguard.observability.trace import Tracer
from oplguard.policy.scanner import Scan
from oplguard.spamd.messages import Request
from oplguard.tracking.record import build_record, senders_of
from oplguard.tracking.writer import TrackingWriter

log = logging.getLogger("oplguard.server")
# Start, listen, reload, stop: INFO, shown at every log_level (levelnames.py).
lifecycle = logging.getLogger(LIFECYCLE_LOGGER)
track_log = logging.getLogger("oplguard.tracking")


class ServerLike(Protocol):
    """What this module reads from the server (kept narrow: no import of the shell)."""

    config: Config
    tasks: set[asyncio.Future[None]]
    bound: list[tuple[Any, str]]
    list_errors: dict[str, str]

    @property
    def lists(self) -> Any: ...

    @property
    def service(self) -> Any: ...


class Observability:
    """One service's levels, traces, metrics, tracking writer and control socket."""

    def __init__(self, server: ServerLike) -> None:
        cfg = server.config
        self.server = server
        self.started = time.time()
        self.host = cfg.tracking.host or socket.gethostname()
        self.levels = LevelControl(self._schedule)
        self.tracer = Tracer(self.levels, self._schedule)
        self.writer = (
            TrackingWriter(cfg.tracking_db, cfg.tracking, self._tracking_event)
            if cfg.tracking_db
            else None
        )
        self.metrics = Metrics(
            self.levels,
            {
                "connections_open": lambda: float(len(server.tasks)),
                "tracking_queue": lambda: float(len(self.writer.queue) if self.writer else 0),
            },
        )
        self.metrics.registry.register(ListMetrics(self.list_state))
        self.metrics_address: tuple[str, int] | None = None
        self.control = (
            ControlServer(
                Path(cfg.control_socket), self._handlers(), self.metrics.control_errors.inc
            )
            if cfg.control_socket
            else None
        )

    @staticmethod
    def _schedule(delay_s: float, action: Callable[[], None]) -> Cancellable:
        return asyncio.get_running_loop().call_later(delay_s, action)

    # ---- lifecycle ----

    async def start(self) -> None:
        """Start writer, metrics and control socket; a failing one is logged, never fatal."""
        gate_handlers(self.tracer)
        if self.writer is not None:
            self.writer.start()
        listen = self.server.config.metrics.listen
        if listen:
            _kind, host, port, _path = parse_listen(listen)
            try:
                self.metrics_address = await asyncio.to_thread(self.metrics.serve, host, port)
                lifecycle.info("metrics on http://%s:%d/metrics", *self.metrics_address)
            except OSError as err:
                log.error("metrics: cannot listen on %s: %s (scoring continues)", listen, err)
        if self.control is not None:
            try:
                await self.control.start()
            except ControlSocketError as err:
                self.metrics.control_errors.inc()
                log.error("%s; log-level/trace/status are unavailable (scoring continues)", err)
                self.control = None

    async def stop(self, grace_s: float) -> None:
        """Close the control socket, end traces and timed levels, write every queued record."""
        if self.control is not None:
            await self.control.close()
        self.tracer.stop_all()
        self.levels.revert_now()
        if self.writer is not None:
            await asyncio.to_thread(self.writer.close, grace_s)
        await asyncio.to_thread(self.metrics.close)

    def install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        """SIGUSR1: every component one level more verbose; SIGUSR2: one less."""
        loop.add_signal_handler(signal.SIGUSR1, self.levels.step, True)
        loop.add_signal_handler(signal.SIGUSR2, self.levels.step, False)

    # ---- events from the server ----

    def on_scan(self, request: Request, scan: Scan, message_id: str) -> None:
        """The scan hook: count, queue the tracking record, write out a matching trace."""
        self.metrics.observe(scan)
        if self.writer is not None:
            self.writer.submit(build_record(scan, message_id, self.host, request.user or ""))
        if self.tracer.active:
            ips = {relay.ip for relay in scan.chain.relays} | set(scan.verdict.checked_ips)
            senders = {s for s in senders_of(scan) if s}
            self.tracer.finish(ips, senders)

    def connection(self) -> None:
        self.metrics.connections.inc()

    def reloaded(self, ok: bool) -> None:
        self.metrics.reloads.labels("ok" if ok else "failed").inc()

    def capture(self) -> contextlib.AbstractContextManager[None]:
        """Around one connection: buffers its debug records while a trace runs."""
        return self.tracer.capture()

    def _tracking_event(self, kind: str, count: int) -> None:
        if kind in ("written", "dropped"):
            self.metrics.tracking.labels(kind).inc(count)
        else:
            self.metrics.tracking_errors.labels(kind).inc(count)

    # ---- control commands ----

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "levels": lambda _req: {
                "levels": self.levels.levels(),
                "reverts": self.levels.pending(),
            },
            "set-level": self._set_level,
            "trace": self._trace,
            "status": lambda _req: self.status(),
            "lists": lambda _req: {"lists": self.lists_status()},
            # For the parent of pre-forked workers, which merges them (observability/merged.py).
            "metrics": lambda _req: {"text": generate_latest(self.metrics.registry).decode()},
        }

    def _set_level(self, request: dict[str, Any]) -> dict[str, Any]:
        component = request.get("component") or None
        duration = str(request.get("for") or "")
        for_s = parse_duration(duration) if duration else None
        return self.levels.set(component, str(request.get("level", "")), for_s)

    def _trace(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("stop"):
            return self.tracer.stop(str(request.get("ip") or ""), str(request.get("sender") or ""))
        for_s = parse_duration(str(request.get("for") or "30m"))
        return self.tracer.start(
            str(request.get("ip") or ""), str(request.get("sender") or ""), for_s
        )

    def list_state(self) -> ListState:
        """The lists the alert gauges are read from (empty before the lists are loaded)."""
        server = self.server
        try:
            snapshot, health = server.lists.snapshot, server.service.scanner.health
        except AttributeError:
            return ListState()
        files = tuple(list_cfg.name for list_cfg in server.config.lists)
        return ListState(snapshot, health, dict(server.list_errors), files)

    def lists_status(self) -> list[dict[str, Any]]:
        """The ``oplguard lists status`` rows."""
        server = self.server
        return lists_status(
            server.config,
            server.lists.snapshot,
            server.service.scanner.health,
            server.list_errors,
        )

    def status(self) -> dict[str, Any]:
        """The ``oplguard status`` document."""
        snapshot = self.server.lists.snapshot
        writer = self.writer
        return {
            "version": __version__,
            "host": self.host,
            "uptime_s": round(time.time() - self.started, 1),
            "listening": [address for _listener, address in self.server.bound],
            "metrics": "http://{}:{}/metrics".format(*self.metrics_address)
            if self.metrics_address
            else None,
            "lists": [
                {"name": item.config.name, "entries": len(item.entries)} for item in snapshot.lists
            ],
            "levels": self.levels.levels(),
            "reverts": self.levels.pending(),
            "traces": self.tracer.list(),
            "connections_open": len(self.server.tasks),
            "counters": self.metrics.summary(),
            "tracking": None if writer is None else writer.status(),
        }
