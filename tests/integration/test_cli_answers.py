"""Operator mistakes answered in one line, with the same exit codes everywhere; a closed
pipe ends every command quietly; level names as admins type them; ``trace --stop``.

Every command here is the real ``oplguard`` process, against a real ``serve`` where it
asks the running service.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiospamc
import pytest

from oplguard.cli import main
from oplguard.errors import InputError
from oplguard.removals.model import parse_public_ip
from tests.conftest import ConfigWriter, config_writer
from tests.integration.service_process import ServiceProcess, oplguard, wait_for
from tests.samples import MESSAGES, message

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One running service for the tests of this module that ask it."""
    tmp_path = tmp_path_factory.mktemp("service")
    write_config = config_writer(tmp_path)
    top = (
        f'control_socket = "{tmp_path / "c.sock"}"\n'
        f'tracking_db = "sqlite:///{tmp_path / "t.db"}"\nlog_level = "Warnings"'
    )
    config = write_config(top=top, extra="[tracking]\nbatch_interval_s = 0.1\n")
    with ServiceProcess(config, tmp_path / "serve.log") as running:
        yield running


@pytest.mark.parametrize("bad", ["999.1.1.1", "fe80::1%eth0", "192.0.2.0/24", "010.0.0.1"], ids=str)
def test_a_bad_ip_exits_64_with_one_line_in_lookup_track_and_trace(
    write_config: ConfigWriter, tmp_path: Path, bad: str
) -> None:
    config = str(write_config(top=f'tracking_db = "{tmp_path / "t.db"}"'))
    with pytest.raises(InputError) as web_refusal:  # what GET /api/v1/ip/{ip} answers (400)
        parse_public_ip(bad)
    for command in (["lookup", bad], ["track", "--ip", bad], ["trace", "--ip", bad]):
        done = oplguard(*command, "--config", config)
        assert done.returncode == 64, (command, done.stderr)
        assert done.stderr.splitlines() == [f"oplguard {command[0]}: {web_refusal.value}"]


def test_each_error_class_exits_with_its_code(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(top=f'control_socket = "{tmp_path / "none.sock"}"')
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    cases = {
        ("explain", str(tmp_path / "missing.eml"), "--config", str(config)): 66,
        ("status", "--config", str(config)): 69,
        ("track", "--config", str(config)): 69,  # tracking_db is not set
        ("check-config", str(broken)): 78,
        (
            "lists",
            "export",
            "--format",
            "plain",
            "--output",
            "/proc/x",
            "--config",
            str(config),
        ): 73,
        ("log-level", "loud", "--config", str(config)): 64,
        ("track", "--since", "yesterday-ish", "--config", str(config)): 64,
    }
    for args, code in cases.items():
        done = oplguard(*args)
        assert done.returncode == code, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_every_command_refuses_an_unknown_option_with_64(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In-process (argparse exits before any work); the real process is covered above.
    commands = [
        ["serve"], ["policyd"], ["web"], ["explain", "-"], ["lookup", "192.0.2.1"],
        ["check-config", "x"], ["lists", "export", "--format", "plain"], ["lists", "status"],
        ["log-level"], ["trace"], ["status"], ["track"], ["removals", "list"],
    ]  # fmt: skip
    for command in commands:
        with pytest.raises(SystemExit) as done:
            main([*command, "--no-such-option"])
        assert done.value.code == 64, command
        assert "--no-such-option" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bare:
        main([])
    assert bare.value.code == 64 and "required: COMMAND" in capsys.readouterr().err


def closed_pipe_run(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run oplguard with standard output a pipe whose reader is already gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "oplguard", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)


def test_a_closed_pipe_ends_every_command_quietly(service: ServiceProcess) -> None:
    asyncio.run(aiospamc.check(message("listed-deep.eml"), host="127.0.0.1", port=service.port))
    config = str(service.config)
    wait_for(lambda: "deep-1" in oplguard("track", "--config", config).stdout)
    deep = str(MESSAGES / "listed-deep.eml")
    commands = [
        ["--help"], ["explain", deep], ["lookup", "192.0.2.99"],
        ["lists", "export", "--format", "rbldnsd"], ["lists", "status"], ["log-level"],
        ["status"], ["track", "--json"],
    ]  # fmt: skip
    for command in commands:
        extra = (
            ["--config", config]
            if command[0] not in ("--help", "--version", "check-config")
            else []
        )
        done = closed_pipe_run(*command, *extra)
        assert (done.returncode, done.stderr.decode()) == (0, ""), command


def test_level_names_are_read_as_admins_type_them(service: ServiceProcess) -> None:
    assert set(service.levels()["levels"].values()) == {"WARNING"}  # log_level = "Warnings"
    config = str(service.config)
    for typed, shown in (("debug", "DEBUG"), ("WARN", "WARNING"), ("Errors", "ERROR")):
        done = oplguard("log-level", "policy", typed, "--json", "--config", config)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["levels"]["policy"] == shown
    refused = oplguard("log-level", "policy", "loud", "--config", config)
    assert refused.returncode == 64 and "unknown level 'loud'" in refused.stderr


def test_serve_reads_log_level_as_admins_type_it(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(top=f'control_socket = "{tmp_path / "c.sock"}"')
    bad = subprocess.run(
        [sys.executable, "-m", "oplguard", "serve", "--config", str(config), "--log-level", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 64 and "unknown level 'x'" in bad.stderr


def test_trace_stop_and_a_new_trace_replaces_the_old(service: ServiceProcess) -> None:
    config = str(service.config)

    def traces() -> list[dict[str, str]]:
        return list(json.loads(oplguard("status", "--json", "--config", config).stdout)["traces"])

    assert (
        oplguard("trace", "--ip", "192.0.2.99", "--for", "1h", "--config", config).returncode == 0
    )
    assert (
        oplguard("trace", "--ip", "192.0.2.99", "--for", "5m", "--config", config).returncode == 0
    )
    [only] = traces()
    assert only["ip"] == "192.0.2.99"
    # The 5-minute trace replaced the hour one instead of stacking beside it.
    assert datetime.fromisoformat(only["until"]) < datetime.now(UTC) + timedelta(minutes=10)
    stopped = oplguard("trace", "--ip", "192.0.2.99", "--stop", "--config", config)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == "stopped tracing ip=192.0.2.99 sender=-"
    assert traces() == []
    again = oplguard("trace", "--ip", "192.0.2.99", "--stop", "--config", config)
    assert again.returncode == 65
    assert "no trace of ip=192.0.2.99 sender=- runs (running: none)" in again.stderr
    log = service.log.read_text()
    assert "trace replaced ip=192.0.2.99" in log and "trace ended ip=192.0.2.99" in log


EXPIRED = '\n[[allowed_senders]]\nip = "203.0.113.66"\nexpires = 2020-01-31\ncomment = "old"\n'


def test_check_config_and_reload_warn_about_expired_and_duplicate_entries(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(top=f'control_socket = "{tmp_path / "c.sock"}"')
    opl = tmp_path / "lists" / "opl.txt"
    opl.write_text(opl.read_text() + "192.0.2.99 listed twice\n")
    checked = oplguard("check-config", str(config))
    assert checked.returncode == 0, checked.stderr
    warnings = checked.stderr.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: {opl}:")
    assert "192.0.2.99 is already on line" in warnings[0]
    with ServiceProcess(config, tmp_path / "serve.log") as running:
        config.write_text(config.read_text() + EXPIRED)
        running.signal(signal.SIGHUP)
        wait_for(lambda: "reloaded configuration" in running.log.read_text())
    log = running.log.read_text()
    assert "reload: " in log and "allowed_senders entry 203.0.113.66 expired at 2020-01-31" in log
    # Lifecycle lines are INFO, and the default log_level (WARNING) still shows them.
    for line in ("listening on 127.0.0.1:", "reloaded configuration from", "stopped"):
        assert f"INFO oplguard.lifecycle: {line}" in log, line
    again = oplguard("check-config", str(config))
    assert "allowed_senders entry 203.0.113.66 expired at 2020-01-31T00:00:00+00:00" in again.stderr
