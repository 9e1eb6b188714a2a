"""The ``[web.notify]`` table: the SMTP relay that tells requesters of decisions.

Kept apart from ``config.web``; every error names the file, the line and the fix.
"""

from __future__ import annotations

import re
from typing import Any

from oplguard.config.fields import Fields
from oplguard.config.model import NotifyConfig
from oplguard.errors import ConfigError

TABLE = "web.notify"
KEYS = {"enabled", "host", "port", "from", "starttls", "username", "password_file", "timeout_s"}
MAX_PORT = 65535
# local@domain: the relay checks the rest; no spaces or angle brackets (header injection).
_ADDRESS = re.compile(r"[^@\s<>\"',;:()\[\]\\]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


def read_notify(reader: Fields, web: dict[str, Any]) -> NotifyConfig:
    """``[web.notify]`` as a NotifyConfig (all defaults, off, when absent).

    Raises:
        ConfigError: a bad value; names the file, line and fix.
    """
    data = reader.table(web, "notify")
    reader.check_keys(TABLE, data, KEYS)
    default = NotifyConfig()
    enabled = reader.boolean(data, TABLE, "enabled", default.enabled)
    sender = reader.string(data, TABLE, "from", default.sender)
    if (enabled or sender) and not _ADDRESS.fullmatch(sender):
        raise reader.fail(
            TABLE,
            "from",
            f"bad or missing from address {sender!r}",
            'from = "oplguard@example.net"',
        )
    port = reader.number(data, TABLE, "port", default.port)
    if port != int(port) or not 1 <= port <= MAX_PORT:
        raise reader.fail(TABLE, "port", f"bad port {port}", "port = 25 (or 587 with starttls)")
    timeout = reader.number(data, TABLE, "timeout_s", default.timeout_s)
    if timeout <= 0:
        raise reader.fail(TABLE, "timeout_s", "timeout_s must be above 0", "timeout_s = 10")
    username = reader.string(data, TABLE, "username", default.username)
    return NotifyConfig(
        enabled=enabled,
        host=reader.string(data, TABLE, "host", default.host) or default.host,
        port=int(port),
        sender=sender,
        starttls=reader.boolean(data, TABLE, "starttls", default.starttls),
        username=username,
        password=_password(reader, data, username),
        timeout_s=timeout,
    )


def _password(reader: Fields, data: dict[str, Any], username: str) -> str:
    name = reader.string(data, TABLE, "password_file", "")
    if bool(name) != bool(username):
        raise reader.fail(
            TABLE,
            "username" if name else "password_file",
            "SMTP AUTH needs both username and password_file",
            'set username = "..." and password_file = "/etc/oplguard/smtp.password"',
        )
    if not name:
        return ""
    path = reader.path_of(name)
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"cannot read password_file {path}: {err}",
            path=str(reader.path),
            line=reader.fail(TABLE, "password_file", "", "").line,
            fix="create it (chmod 0640, readable by the service user)",
        ) from err
