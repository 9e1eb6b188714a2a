"""Upstream mode: every scan also goes to a real SpamAssassin spamd; the answers merge.

Scores add, symbols and reports are combined, and the reply keeps the shape
the client's command and version call for (it is rendered by ``spamd``).  If
the upstream is down, slow or talks garbage, oplguard's own verdict is the
answer, with a warning in the log and a line in the report.  Requests are
written and replies parsed by aiospamc (no third spamd parser); the socket is
ours, so a timeout always closes it.  ``merge_*`` and ``parse_answer`` are pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import zlib
from dataclasses import dataclass, replace

from oplguard.config.model import Listener, UpstreamConfig
from oplguard.config.vocabulary import Threshold
from oplguard.policy.verdict import Symbol, Verdict
from oplguard.spamd.messages import Request, ScanResult, Verb

log = logging.getLogger("oplguard.upstream")

# What we ask spamd for each client command: enough to merge the reply.
# PROCESS/HEADERS ask SYMBOLS: oplguard writes the X-Spam-* headers itself
# from the merged score and rules (report_safe 0 style, spamd-protocol.md §5).
UPSTREAM_COMMAND: dict[Verb, str] = {
    Verb.CHECK: "CHECK",
    Verb.SYMBOLS: "SYMBOLS",
    Verb.REPORT: "REPORT",
    Verb.REPORT_IFSPAM: "REPORT",
    Verb.PROCESS: "SYMBOLS",
    Verb.HEADERS: "SYMBOLS",
}
UPSTREAM_RULE_DESCRIPTION = "SpamAssassin rule (upstream spamd)"
# A symbol list longer than this is not SpamAssassin talking (it has ~1000 rules).
MAX_UPSTREAM_SYMBOLS = 2000
# We ask only for CHECK, SYMBOLS and REPORT: a few KiB.  Exim keeps 32600
# bytes of a report; anything past 1 MiB is not a spamd reply.
MAX_REPLY_BYTES = 1 << 20
READ_CHUNK_BYTES = 65536


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    """What the upstream spamd at ``address`` said, in the protocol's own terms
    (``result``), or why it gave no usable answer (``failure``; ``result`` is None)."""

    address: str
    result: ScanResult | None
    failure: str = ""


async def ask(cfg: UpstreamConfig, request: Request) -> UpstreamAnswer | None:
    """Forward ``request`` to the upstream spamd; None if there is none or the
    command is not a scan.  Never raises on network or protocol trouble."""
    command = UPSTREAM_COMMAND.get(request.verb)
    if cfg.address is None or command is None:
        return None
    address = str(cfg.address)
    try:
        async with asyncio.timeout(cfg.timeout_s):
            raw = await exchange(cfg.address, spamc_request(command, request))
        answer = parse_answer(address, command, raw)
    except TimeoutError:
        return _failed(address, f"no answer within {cfg.timeout_s:g} s")
    except (OSError, ValueError, zlib.error) as err:
        return _failed(address, f"{type(err).__name__}: {err}")
    except _CLIENT_ERRORS as err:
        return _failed(address, f"{type(err).__name__}: {getattr(err, 'message', '') or err}")
    result = answer.result
    if result is not None:
        log.debug(
            "upstream %s: score=%.1f required=%.1f symbols=%d",
            address,
            result.score,
            result.required_score,
            len(result.symbols),
        )
    return answer


def spamc_request(command: str, request: Request) -> bytes:
    """The request as aiospamc writes it: ``<COMMAND> SPAMC/1.5``, User, Content-length."""
    from aiospamc.requests import Request as SpamcRequest

    outgoing = SpamcRequest(command, body=request.body)
    if request.user:
        outgoing.headers.user = request.user
    return bytes(outgoing)


async def exchange(address: Listener, data: bytes) -> bytes:
    """Send one request, half-close, read the reply to EOF; the caller times it.

    Raises:
        OSError: connecting, writing or reading failed.
        ValueError: the reply is longer than MAX_REPLY_BYTES.
    """
    if address.kind == "unix":
        reader, writer = await asyncio.open_unix_connection(address.path)
    else:
        reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        writer.write(data)
        writer.write_eof()
        await writer.drain()
        reply = await reader.read(MAX_REPLY_BYTES + 1)
        while len(reply) <= MAX_REPLY_BYTES and (chunk := await reader.read(READ_CHUNK_BYTES)):
            reply += chunk
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if len(reply) > MAX_REPLY_BYTES:
        raise ValueError(f"reply longer than {MAX_REPLY_BYTES} bytes")
    return reply


def parse_answer(address: str, command: str, raw: bytes) -> UpstreamAnswer:
    """The reply parsed by aiospamc, then checked for what we asked.

    Raises:
        ValueError: no usable ``Spam:`` header, or a body that is not what was asked.
        aiospamc's ParseError / ResponseException: not a spamd reply, or an EX_* error.
    """
    from aiospamc.incremental_parser import ResponseParser
    from aiospamc.responses import Response

    response = Response(**ResponseParser().parse(raw))
    response.raise_for_status()
    spam = response.headers.spam
    if spam is None:
        raise ValueError("reply without a Spam: header")
    score, required = float(spam.score), float(spam.threshold)
    if not (math.isfinite(score) and math.isfinite(required)):
        raise ValueError(f"Spam: header with a non-finite score {score} / {required}")
    body = bytes(response.body).decode("utf-8", "replace")
    symbols: tuple[str, ...] = ()
    if command == "SYMBOLS":
        symbols = tuple(name for name in body.strip().split(",") if name)
        if len(symbols) > MAX_UPSTREAM_SYMBOLS or not all(_is_rule(n) for n in symbols):
            raise ValueError("SYMBOLS reply is not a list of rule names")
    report = body if command == "REPORT" else ""
    return UpstreamAnswer(address, ScanResult(score, required, symbols, report))


def _is_rule(name: str) -> bool:
    return name.replace("_", "").isalnum() and name.isascii()


def _failed(address: str, detail: str) -> UpstreamAnswer:
    log.warning(
        "upstream spamd %s failed: %s; answering with oplguard's own verdict", address, detail
    )
    return UpstreamAnswer(address, None, detail)


def _client_errors() -> tuple[type[BaseException], ...]:
    """aiospamc's parse and EX_* status errors; ImportError when it is missing."""
    try:
        from aiospamc.exceptions import ParseError
        from aiospamc.responses import ResponseException
    except ImportError:
        return (ImportError,)
    return (ParseError, ResponseException, ImportError)


_CLIENT_ERRORS = _client_errors()


def merge_verdict(verdict: Verdict, answer: UpstreamAnswer | None, threshold: str) -> Verdict:
    """Our verdict with the upstream's score added and its rules appended."""
    theirs = None if answer is None else answer.result
    if theirs is None:
        return verdict
    own = {symbol.name for symbol in verdict.symbols}
    extra = tuple(
        Symbol(name, 0.0, UPSTREAM_RULE_DESCRIPTION) for name in theirs.symbols if name not in own
    )
    required = theirs.required_score if threshold == Threshold.UPSTREAM else verdict.required_score
    return replace(
        verdict,
        score=round(verdict.score + theirs.score, 3),
        required_score=required,
        symbols=verdict.symbols + extra,
    )


def merge_report(report: str, answer: UpstreamAnswer | None) -> str:
    """Our report, then SpamAssassin's (or why it is missing)."""
    if answer is None:
        return report
    if answer.result is None:
        return (
            f"{report}Upstream spamd {answer.address} unavailable ({answer.failure}): "
            "this verdict is oplguard's own.\n\n"
        )
    if not answer.result.report:
        return report
    return f"{report}--- SpamAssassin (upstream spamd {answer.address}) ---\n{answer.result.report}"
