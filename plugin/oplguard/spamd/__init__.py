"""The spamd protocol, sans-io: bytes in, requests out; results in, bytes out.

Nothing here imports asyncio or socket (see ``server/`` for the transport).
"""

from oplguard.spamd.connection import SpamdConnection
from oplguard.spamd.messages import (
    NEED_DATA,
    SCAN_VERBS,
    Limits,
    ProtocolFailure,
    Request,
    ScanResult,
    TellResult,
    Verb,
    tell_disabled,
)
from oplguard.spamd.render import (
    render_error,
    render_response,
    render_timeout,
    spam_value,
    symbols_text,
)

__all__ = [
    "NEED_DATA",
    "SCAN_VERBS",
    "Limits",
    "ProtocolFailure",
    "Request",
    "ScanResult",
    "SpamdConnection",
    "TellResult",
    "Verb",
    "render_error",
    "render_response",
    "render_timeout",
    "spam_value",
    "symbols_text",
    "tell_disabled",
]
