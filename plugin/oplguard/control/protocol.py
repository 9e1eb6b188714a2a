"""The control socket's wire format: one JSON object a line, one request per connection.

Request ``{"cmd": NAME, ...}``; reply ``{"ok": true, ...}`` or
``{"ok": false, "error": TEXT}``.  Shared by server and client; no I/O.
"""

from __future__ import annotations

import json
from typing import Any

# A request is a few short fields; anything longer is not ours.
MAX_REQUEST_BYTES = 64 * 1024
# Replies carry levels, traces and counters: small, but lists can be many.
MAX_REPLY_BYTES = 4 * 1024 * 1024
# A request field is a name, level, duration, IP or address.
MAX_FIELD_CHARS = 1024
# Both sides give up on a silent peer after this long.
IO_TIMEOUT_S = 10.0


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, sort_keys=True).encode("utf-8") + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One message.

    Raises:
        ValueError: not one JSON object.
    """
    try:
        value = json.loads(line.decode("utf-8"))
    except RecursionError:
        raise ValueError("a control message is one JSON object, not nested this deep") from None
    if not isinstance(value, dict):
        raise ValueError("a control message is one JSON object")
    return value


# The fields that are yes/no flags (``trace --stop``); every other field is text.
FLAG_FIELDS = frozenset({"stop"})


def decode_request(line: bytes) -> dict[str, Any]:
    """One request: a JSON object whose fields are short strings, booleans or null.

    Every command takes only such fields (a flag such as ``trace``'s ``stop`` is a
    boolean), so a number, list or object where a name, level or duration is
    expected is refused here, with its name.

    Raises:
        ValueError: not one JSON object, or a field that is not a string.
    """
    request = decode(line)
    for key, value in request.items():
        if value is None or (isinstance(value, bool) and key in FLAG_FIELDS):
            continue
        if not isinstance(value, str):
            raise ValueError(f"field {key!r} must be a string, not {type(value).__name__}")
        if len(value) > MAX_FIELD_CHARS:
            raise ValueError(f"field {key!r} is longer than {MAX_FIELD_CHARS} characters")
    return request
