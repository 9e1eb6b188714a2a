"""Reply bytes for every command and protocol version, exactly as spamd writes them."""

from __future__ import annotations

from oplguard.headerend import header_part
from oplguard.spamd.messages import ProtocolFailure, Request, ScanResult, TellResult, Verb

OK_LINE = b"SPAMD/1.1 0 EX_OK\r\n"
OLD_OK_LINE = b"SPAMD/1.0 0 EX_OK\r\n"
PONG = b"SPAMD/1.5 0 PONG\r\n"


def spam_value(result: ScanResult, yes_no: bool = False) -> str:
    """The ``Spam:`` header value: ``True ; 10.0 / 5.0``.

    A ham score that rounds up to the threshold is printed as threshold - 0.1
    so that clients deciding by ``score >= threshold`` (Exim) see ham.
    """
    threshold = f"{result.required_score:.1f}"
    score = f"{result.score:.1f}"
    if not result.is_spam and float(score) >= float(threshold):
        score = f"{float(threshold) - 0.1:.1f}"
    words = ("Yes", "No") if yes_no else ("True", "False")
    flag = words[0] if result.is_spam else words[1]
    return f"{flag} ; {score} / {threshold}"


def symbols_text(result: ScanResult) -> bytes:
    """Rule names in plain byte order, comma-joined without spaces."""
    return ",".join(sorted(result.symbols, key=lambda name: name.encode())).encode()


def render_response(request: Request, result: ScanResult | TellResult | None) -> bytes:
    """The complete successful reply to ``request``."""
    verb = request.verb
    if verb is Verb.PING:
        return PONG
    if verb is Verb.SKIP:
        return b""
    if verb is Verb.TELL:
        assert isinstance(result, TellResult)
        return _tell(result)
    assert isinstance(result, ScanResult)
    modern = request.version >= (1, 3)
    spam = spam_value(result, yes_no=verb is Verb.REPORT_IFSPAM)
    if verb is Verb.CHECK:
        return _reply(None, spam, b"")
    if verb is Verb.SYMBOLS:
        symbols = symbols_text(result)
        return (
            _reply(len(symbols), spam, symbols) if modern else _reply(None, spam, symbols + b"\r\n")
        )
    if verb in (Verb.REPORT, Verb.REPORT_IFSPAM):
        report = result.report.encode()
        if verb is Verb.REPORT_IFSPAM and not result.is_spam:
            report = b""
        return _reply(len(report) if modern else None, spam, report)
    message = header_part(result.message) if verb is Verb.HEADERS else result.message
    if request.version < (1, 2):
        return OLD_OK_LINE + message
    return _reply(len(message), spam if modern else None, message)


def _reply(length: int | None, spam: str | None, body: bytes) -> bytes:
    lines = [OK_LINE]
    if length is not None:
        lines.append(b"Content-length: %d\r\n" % length)
    if spam is not None:
        lines.append(f"Spam: {spam}\r\n".encode())
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


def _tell(result: TellResult) -> bytes:
    # spamd writes the header lines and then "\r\n\r\n" (one CRLF more than usual).
    lines = [OK_LINE]
    if result.did_set:
        lines.append(f"DidSet: {','.join(result.did_set)}\r\n".encode())
    if result.did_remove:
        lines.append(f"DidRemove: {','.join(result.did_remove)}\r\n".encode())
    lines.append(b"\r\n\r\n")
    return b"".join(lines)


def render_error(failure: ProtocolFailure) -> bytes:
    """The one-line error reply: ``SPAMD/1.0 <code> <message>``."""
    message = " ".join(failure.message.split()) or failure.status.name
    return f"SPAMD/1.0 {int(failure.status)} {message}\r\n".encode("utf-8", "replace")


def render_timeout(seconds: int) -> bytes:
    """spamd's answer when the client sent nothing within the request timeout."""
    detail = f"({seconds} second socket timeout reading input from client)"
    return f"SPAMD/1.0 79 Timeout: {detail}\r\n".encode()
