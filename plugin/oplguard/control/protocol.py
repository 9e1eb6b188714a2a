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
# Both sides give up on a silent peer after this long.
IO_TIMEOUT_S = 10.0


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, sort_keys=True).encode("utf-8") + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One message.

    Raises:
        ValueError: not one JSON object.
    """
    value = json.loads(line.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("a control message is one JSON object")
    return value
