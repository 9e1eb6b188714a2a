"""The control socket of pre-forked workers: the parent answers, every worker is asked.

With ``[server] workers = N`` (server/workers.py) each worker serves its own
control socket next to the configured one (``control.sock.worker0``, ...), and
the parent binds the configured path.  Each request is relayed to every
worker in turn and the replies are merged, so ``oplguard log-level``,
``trace`` and ``status`` act on, and report, the whole service; without this
they reached one worker chosen by the kernel.

Blocking and one request at a time, in the parent's sidecar thread
(server/sidecar.py), never in the loop that reaps workers; a client's
request must be in within a total deadline, and each worker gets
``WORKER_TIMEOUT_S``.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oplguard.control.client import ControlError, ask
from oplguard.control.protocol import IO_TIMEOUT_S, MAX_REQUEST_BYTES, decode, encode
from oplguard.control.server import bind_private, peer_uid, refusal, unlink_if_same

log = logging.getLogger("oplguard.server")

# A worker busy scoring still answers within milliseconds; a hung one must
# not hold the parent (which also reaps and replaces workers) for long.
WORKER_TIMEOUT_S = 5.0
# Commands that change state: every worker must take them, or the reply says which did not.
CHANGES = frozenset({"set-level", "trace"})


def worker_socket(path: Path, slot: int) -> Path:
    """The control socket of worker ``slot`` when ``path`` is the service's."""
    return path.with_name(f"{path.name}.worker{slot}")


@dataclass(frozen=True, slots=True)
class Worker:
    slot: int
    pid: int


@dataclass(frozen=True, slots=True)
class Answer:
    """One worker's reply (``reply``), or why it gave none (``error``)."""

    worker: Worker
    reply: dict[str, Any] | None
    error: str = ""


class ControlRelay:
    """The parent's side: the configured control socket, relayed to every worker."""

    def __init__(self, path: Path) -> None:
        """Bind ``path`` (mode 0600).

        Raises:
            ControlSocketError: the path cannot be used.
        """
        self.path = path
        self.sock = bind_private(path)
        self.sock.setblocking(False)
        self.inode = path.lstat().st_ino

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()
        unlink_if_same(self.path, self.inode)

    def serve_one(
        self,
        workers: Sequence[Worker],
        open_clients: set[socket.socket] | None = None,
        deadline_s: float = IO_TIMEOUT_S,
    ) -> None:
        """Accept one waiting client (if any) and answer it; never raises on a bad client.

        Its request must be in within ``deadline_s`` of the accept, however it
        trickles; ``open_clients`` holds the socket meanwhile (server/sidecar.py).
        """
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        clients = open_clients if open_clients is not None else set()
        clients.add(conn)
        with conn:
            conn.setblocking(True)
            deadline = time.monotonic() + deadline_s
            try:
                reply = refusal(peer_uid(conn)) or self._answer(conn, workers, deadline)
                conn.settimeout(max(0.1, deadline - time.monotonic()))
                conn.sendall(encode(reply))
            except OSError as err:
                log.warning("control socket: client went away: %s", err or "timeout")
            finally:
                clients.discard(conn)

    def _answer(
        self, conn: socket.socket, workers: Sequence[Worker], deadline: float
    ) -> dict[str, Any]:
        line = b""
        while not line.endswith(b"\n") and len(line) <= MAX_REQUEST_BYTES:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"request not complete within {IO_TIMEOUT_S:g}s")
            conn.settimeout(left)
            chunk = conn.recv(4096)
            if not chunk:
                break
            line += chunk
        try:
            request = decode(line)
        except ValueError as err:
            return {"ok": False, "error": f"bad request: {err}"}
        return merge(str(request.get("cmd", "")), self.gather(request, workers))

    def gather(self, request: dict[str, Any], workers: Sequence[Worker]) -> list[Answer]:
        """Every worker's answer to ``request``, in slot order."""
        return [self._ask(worker, request) for worker in workers]

    def sync(self, new: Worker, peers: Sequence[Worker]) -> bool:
        """Give a worker started in place of a dead one the run-time state of a live one:
        levels set by ``log-level`` (timed ones with the time they have left) and traces.

        False while ``new`` does not answer yet (call again); True when done.
        """
        fresh = self._ask(new, {"cmd": "levels"}).reply
        if fresh is None:
            return False
        donor = next(
            (a for a in self.gather({"cmd": "status"}, peers) if a.reply is not None), None
        )
        if donor is None or donor.reply is None:
            return True  # no live peer: the configured levels are all there is
        for request in catch_up(donor.reply, fresh.get("levels", {}), datetime.now(UTC)):
            answer = self._ask(new, request)
            if answer.reply is None:
                log.warning("worker %d: could not copy %s: %s", new.slot, request, answer.error)
        log.warning(
            "worker %d: levels and traces copied from worker %d", new.slot, donor.worker.slot
        )
        return True

    def _ask(self, worker: Worker, request: dict[str, Any]) -> Answer:
        try:
            reply = ask(worker_socket(self.path, worker.slot), request, WORKER_TIMEOUT_S)
        except ControlError as err:
            return Answer(worker, None, str(err))
        return Answer(worker, reply)


def merge(command: str, answers: Sequence[Answer]) -> dict[str, Any]:
    """One reply for the client from every worker's (see the module doc)."""
    answered = [a for a in answers if a.reply is not None]
    failed = [a for a in answers if a.reply is None]
    if not answered:
        reason = failed[0].error if failed else "no worker is running"
        return {"ok": False, "error": reason}
    if command in CHANGES and failed:
        done = ", ".join(str(a.worker.slot) for a in answered)
        first = failed[0]
        return {
            "ok": False,
            "error": f"applied on worker(s) {done} only; worker {first.worker.slot} "
            f"(pid {first.worker.pid}): {first.error}",
        }
    reply = dict(answered[0].reply or {})
    if command == "status":
        _sum_status(reply, [a.reply for a in answered if a.reply is not None])
    reply["workers"] = [_worker_row(command, a) for a in answers]
    return {"ok": True, **reply}


def _worker_row(command: str, answer: Answer) -> dict[str, Any]:
    row: dict[str, Any] = {"slot": answer.worker.slot, "pid": answer.worker.pid}
    if answer.reply is None:
        row["error"] = answer.error
        return row
    for key in ("levels", "connections_open", "uptime_s"):
        if key in answer.reply:
            row[key] = answer.reply[key]
    return row


def _sum_status(into: dict[str, Any], replies: list[dict[str, Any]]) -> None:
    """Connections, counters and tracking figures are the sums over the workers."""
    into["connections_open"] = sum(int(r.get("connections_open", 0)) for r in replies)
    counters: dict[str, dict[str, float]] = {}
    for reply in replies:
        for name, values in (reply.get("counters") or {}).items():
            total = counters.setdefault(name, {})
            for label, value in values.items():
                total[label] = total.get(label, 0.0) + float(value)
    into["counters"] = counters
    tracked = [r["tracking"] for r in replies if r.get("tracking")]
    if tracked:
        summed: dict[str, Any] = {
            key: sum(int(t.get(key, 0)) for t in tracked)
            for key in ("written", "queued", "dropped", "errors", "pruned", "replayed")
        }
        errors = [t["last_error"] for t in tracked if t.get("last_error")]
        summed["last_error"] = errors[0] if errors else tracked[0].get("last_error")
        # The state, last error time and retry of the worker whose error is the newest.
        newest = max(tracked, key=lambda t: float(t.get("last_error_at") or 0.0))
        for key in ("state", "last_error_at", "failing_since", "next_retry_at"):
            if key in newest:
                summed[key] = newest[key]
        if newest.get("last_error"):
            summed["last_error"] = newest["last_error"]
        into["tracking"] = summed


def catch_up(status: dict[str, Any], fresh: dict[str, str], now: datetime) -> list[dict[str, Any]]:
    """The control requests that give a fresh worker (levels ``fresh``) the levels and
    traces in a live worker's ``status``."""
    requests: list[dict[str, Any]] = []
    reverts = {r["component"]: r["at"] for r in status.get("reverts", [])}
    for component, level in sorted(status.get("levels", {}).items()):
        if fresh.get(component) == level and component not in reverts:
            continue
        request = {"cmd": "set-level", "component": component, "level": level, "for": ""}
        if component in reverts:
            left = _seconds_left(reverts[component], now)
            if left is None:
                continue  # reverting now anyway
            request["for"] = left
        requests.append(request)
    for trace in status.get("traces", []):
        left = _seconds_left(trace["until"], now)
        if left is not None:
            requests.append(
                {"cmd": "trace", "ip": trace["ip"], "sender": trace["sender"], "for": left}
            )
    return requests


def _seconds_left(iso_time: str, now: datetime) -> str | None:
    """``"123s"`` until ``iso_time`` (rounded up), or None when it has passed."""
    left = math.ceil((datetime.fromisoformat(iso_time) - now).total_seconds())
    return f"{left}s" if left > 0 else None
