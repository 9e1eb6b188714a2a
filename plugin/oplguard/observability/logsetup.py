"""Log output for the service: text or one JSON object per line, behind the trace gate."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from oplguard.config.vocabulary import LogFormat
from oplguard.observability.trace import TRACE_ATTR, TraceGate, Tracer

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and trace, exception)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace = getattr(record, TRACE_ATTR, None)
        if trace is not None:
            out["trace"] = trace
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The usual text line; a traced record says which trace let it through."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        trace = getattr(record, TRACE_ATTR, None)
        return f"{text} [trace={trace}]" if trace is not None else text


def install(fmt: str, tracer: Tracer | None = None) -> logging.Handler:
    """Route the root logger to stderr in ``fmt`` ("text" or "json") through the trace gate."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == LogFormat.JSON else TextFormatter(TEXT_FORMAT))
    if tracer is not None:
        handler.addFilter(TraceGate(tracer))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    return handler


def gate_handlers(tracer: Tracer) -> None:
    """Put the trace gate on every root handler that has none (the CLI's, a test's)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TraceGate) for f in handler.filters):
            handler.addFilter(TraceGate(tracer))
