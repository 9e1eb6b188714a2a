"""Values that parse but would disable the filter or the host: refused at load.

A ``max_message_bytes`` of a few bytes cuts every message before its Received
headers; a ``required_score`` of ``inf`` or ``nan`` makes nothing spam; a
socket mode above 0o777 or a timeout of a thousand years fails later, at a
worse time.  Each is a ConfigError naming file, line and fix (exit 78), and on
SIGHUP a failed reload that keeps the running configuration.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from oplguard.config.model import Config

if TYPE_CHECKING:
    from oplguard.config.fields import Fields

# Below this, the Received headers of ordinary mail (often 5-20 KB of header
# section) no longer fit: nothing would be checked.
MIN_MESSAGE_BYTES = 32 * 1024
# SpamAssassin's own scores are single or double digits.
MAX_ABS_SCORE = 1000.0
# A per-message CPU budget this small would cut every long header section.
MIN_SCAN_BUDGET_MS = 10.0
MAX_SOCKET_MODE = 0o777


def check(fields: Fields, cfg: Config) -> None:
    """Refuse the values of ``cfg`` that parse but would disable filtering.

    Raises:
        ConfigError: the first such value, with its line and fix.
    """
    server, scoring = cfg.server, cfg.scoring
    if server.max_message_bytes < MIN_MESSAGE_BYTES:
        raise fields.fail(
            "server",
            "max_message_bytes",
            f"max_message_bytes = {server.max_message_bytes} would cut every message before its "
            f"Received headers (at least {MIN_MESSAGE_BYTES})",
            "write max_message_bytes = 512000 (spamc's -s default)",
        )
    if server.max_connections < 1:
        raise fields.fail(
            "server", "max_connections", "max_connections must be at least 1",
            "write max_connections = 64",
        )  # fmt: skip
    if server.unix_socket_mode > MAX_SOCKET_MODE:
        raise fields.fail(
            "server", "unix_socket_mode", f"unix_socket_mode {server.unix_socket_mode:#o} is "
            "not a file mode", "write unix_socket_mode = 0o660",
        )  # fmt: skip
    if not (math.isfinite(scoring.required_score) and abs(scoring.required_score) <= MAX_ABS_SCORE):
        raise fields.fail(
            "scoring",
            "required_score",
            f"required_score = {scoring.required_score} would make every message ham or spam",
            "write required_score = 5.0",
        )
    for name, score in scoring.scores:
        if not (math.isfinite(score) and abs(score) <= MAX_ABS_SCORE):
            raise fields.fail(
                "scores", name, f"score {name} = {score} is not a score",
                f"write {name} = 10.0 (within ±{MAX_ABS_SCORE:g})",
            )  # fmt: skip
    if scoring.scan_cpu_budget_ms < MIN_SCAN_BUDGET_MS:
        raise fields.fail(
            "scoring", "scan_cpu_budget_ms", f"scan_cpu_budget_ms below {MIN_SCAN_BUDGET_MS:g} "
            "would cut every long header section", "write scan_cpu_budget_ms = 250",
        )  # fmt: skip
