"""``oplguard trace``: debug detail only for messages touching the traced IP, in the real log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiospamc
import pytest

from tests.conftest import ConfigWriter
from tests.integration.service_process import ServiceProcess, oplguard, wait_for
from tests.samples import message

pytestmark = pytest.mark.integration


def test_trace_logs_only_messages_touching_the_traced_ip(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(top=f'control_socket = "{tmp_path / "c.sock"}"\nlog_format = "json"')
    with ServiceProcess(config, tmp_path / "serve.log") as service:
        traced = oplguard(
            "trace", "--config", str(config), "--ip", "203.0.113.66", "--for", "10m", "--json"
        )
        assert traced.returncode == 0, traced.stderr
        assert json.loads(traced.stdout)["trace"]["ip"] == "203.0.113.66"

        async def send() -> None:
            for name in ("clean.eml", "listed-deep.eml", "listed-connecting.eml"):
                await aiospamc.check(message(name), host="127.0.0.1", port=service.port)

        asyncio.run(send())
        status = json.loads(oplguard("status", "--json", "--config", str(config)).stdout)
        assert [t["ip"] for t in status["traces"]] == ["203.0.113.66"]
        # Levels still read as configured while the trace holds the loggers at DEBUG.
        assert set(status["levels"].values()) == {"WARNING"}

        def lines() -> list[dict[str, str]]:
            text = service.log.read_text()
            return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

        wait_for(lambda: any(r.get("trace") for r in lines()))
    # Lifecycle lines (listening, stopped) are INFO at every level (issue 17); the rest is detail.
    debug = [
        r
        for r in lines()
        if r["level"] in ("DEBUG", "INFO") and r["logger"] != "oplguard.lifecycle"
    ]
    assert debug, "the traced message left no debug lines"
    assert all(r.get("trace") == "203.0.113.66" for r in debug)
    text = "\n".join(r["message"] for r in debug)
    assert "<deep-1@example.com>" in text
    assert "hop=3 ip=203.0.113.66" in text
    assert "score " in text
    assert "clean-1@example.org" not in text
    assert "mail.example.org" not in text
    assert "listed-1@example.org" not in text


def test_trace_without_ip_or_sender_is_a_usage_error(write_config: ConfigWriter) -> None:
    result = oplguard("trace", "--config", str(write_config()))
    assert result.returncode == 64
    assert "--ip" in result.stderr
