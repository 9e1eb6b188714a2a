"""ScoringService: one spamd Request in, the reply bytes out.

message -> relay chain -> list lookups -> verdict -> reply.  No sockets here;
the transport feeds requests and writes what this returns.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import replace

from oplguard.config.vocabulary import OnError
from oplguard.errors import Status
from oplguard.headerend import header_end
from oplguard.mail.limits import MAX_HEADER_BYTES
from oplguard.mail.rewrite import add_headers
from oplguard.policy.report import report_text, spam_headers
from oplguard.policy.scanner import Scan, Scanner
from oplguard.server.upstream import UpstreamAnswer, ask, merge_report, merge_verdict
from oplguard.spamd.messages import (
    ProtocolFailure,
    Request,
    ScanResult,
    TellResult,
    Verb,
    tell_disabled,
)
from oplguard.spamd.render import render_error, render_response
from oplguard.textsafe import printable

log = logging.getLogger("oplguard.protocol")
scan_log = logging.getLogger("oplguard.policy")

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(\S[^\r\n]*)", re.IGNORECASE | re.MULTILINE)
# Message-IDs are logged, never bodies; cap what a sender can put in a log line.
MAX_LOGGED_ID_CHARS = 200
REWRITE_VERBS = frozenset({Verb.PROCESS, Verb.HEADERS})
# Only these replies carry the report text; the others never render it.
REPORT_VERBS = frozenset({Verb.REPORT, Verb.REPORT_IFSPAM})

ScanHook = Callable[[Request, Scan, str], None]


def message_id(message: bytes) -> str:
    """The Message-ID of ``message`` (header section only), or "", safe to log.

    Only the first ``MAX_HEADER_BYTES`` are searched, as the scan reads them.
    """
    end = header_end(message[:MAX_HEADER_BYTES] if len(message) > MAX_HEADER_BYTES else message)
    # The regex ignores case, so it cannot skip ahead: start it at the first
    # "message-id:" (bytes.lower folds ASCII only, as a bytes pattern does).
    start = message[:end].lower().find(b"message-id:")
    if start < 0:
        return ""
    match = _MESSAGE_ID.search(message, start, end)
    if match is None:
        return ""
    return printable(match.group(1).decode("latin-1").strip()[:MAX_LOGGED_ID_CHARS])


class ScoringService:
    """Answers spamd requests with the current scanner (swapped whole on reload)."""

    def __init__(
        self, scanner: Scanner, *, allow_tell: bool = False, hostname: str | None = None
    ) -> None:
        self.scanner = scanner
        self.allow_tell = allow_tell
        self.hostname = hostname or socket.gethostname()
        self.on_scan: list[ScanHook] = []

    async def respond(self, request: Request) -> bytes:
        """The complete reply to ``request``."""
        if request.verb is Verb.TELL:
            return self.tell(request)
        if request.verb in (Verb.PING, Verb.SKIP):
            return render_response(request, None)
        scanner = self.scanner
        upstream: UpstreamAnswer | None = None
        if scanner.config.upstream.address is None:  # no tasks to gather: the common case
            scan = await scanner.scan_async(request.body)
        else:  # the upstream spamd scans while we do; it never raises
            scan, upstream = await asyncio.gather(
                scanner.scan_async(request.body), ask(scanner.config.upstream, request)
            )
        if scan.verdict.tempfail:
            mid = message_id(request.body)
            self._log_scan(request, scan, mid)
            self._run_hooks(request, scan, mid)
            return render_error(list_tempfail(scan))
        return render_response(request, self.check(request, scanner, scan, upstream))

    def check(
        self, request: Request, scanner: Scanner, scan: Scan, upstream: UpstreamAnswer | None = None
    ) -> ScanResult:
        """Build the scan result (and the rewritten message) from a scan."""
        verdict = merge_verdict(scan.verdict, upstream, scanner.config.upstream.threshold)
        lookup_url = scanner.config.scoring.lookup_url
        message = b""
        if request.verb in REWRITE_VERBS:
            message = add_headers(request.body, spam_headers(verdict, self.hostname))
        mid = message_id(request.body)
        # Log, metrics, tracking and trace see the verdict the MTA gets (with upstream's merged in).
        final = scan if verdict is scan.verdict else replace(scan, verdict=verdict)
        self._log_scan(request, final, mid)
        self._run_hooks(request, final, mid)
        return ScanResult(
            score=verdict.score,
            required_score=verdict.required_score,
            symbols=tuple(symbol.name for symbol in verdict.symbols),
            report=merge_report(report_text(scan.verdict, self.hostname, lookup_url), upstream)
            if request.verb in REPORT_VERBS
            else "",
            message=message,
        )

    def tell(self, request: Request) -> bytes:
        """TELL: there is no learning backend; answer as spamd without --allow-tell."""
        if not self.allow_tell:
            return render_error(tell_disabled())
        # Learning is accepted but changes nothing: there is no Bayes store, and
        # DidSet/DidRemove list only actions that changed something (spamd-protocol.md §5).
        return render_response(request, TellResult(did_set=(), did_remove=()))

    def _run_hooks(self, request: Request, scan: Scan, mid: str) -> None:
        """Tracking, metrics, trace: a failing hook is logged, never fails the reply."""
        for hook in self.on_scan:
            try:
                hook(request, scan, mid)
            except Exception:
                log.exception("scan hook %r failed (the reply is not affected)", hook)

    def _log_scan(self, request: Request, scan: Scan, mid: str) -> None:
        if not scan_log.isEnabledFor(logging.INFO):  # its 13 arguments cost more than the check
            return
        verdict = scan.verdict
        hit = verdict.offending
        scan_log.info(
            "scan verb=%s user=%s message_id=%s connecting_ip=%s checked=%d action=%s "
            "score=%.1f required=%.1f offending_ip=%s hop=%s list=%s truncated=%s elapsed_ms=%.2f",
            request.verb.value,
            request.user or "-",
            mid or "-",
            scan.chain.connecting_ip or "-",
            len(verdict.checked_ips),
            verdict.action,
            verdict.score,
            verdict.required_score,
            hit.ip if hit else "-",
            hit.hop if hit else "-",
            hit.list_name if hit else "-",
            request.body_truncated,
            scan.elapsed_s * 1000,
        )


def list_tempfail(scan: Scan) -> ProtocolFailure:
    """EX_TEMPFAIL for a list whose error policy is ``tempfail``."""
    failure = next(f for f in scan.verdict.failures if f.on_error == OnError.TEMPFAIL)
    return ProtocolFailure(
        Status.EX_TEMPFAIL,
        f"Temporary failure: list {failure.list_name} unavailable ({failure.detail})",
    )
