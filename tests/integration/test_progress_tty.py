"""Long list work shows progress on a terminal and stays quiet elsewhere.

The real ``oplguard`` command runs once with its stderr on a pseudo-terminal
(the pty module) and once on a pipe, over a list big enough to take several
chunks (loader.CHUNK_BYTES): check-config (loading and checking) and
``lists export``.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oplguard.lists.loader import CHUNK_BYTES
from oplguard.progress import COUNT_EVERY
from tests.conftest import config_writer

pytestmark = pytest.mark.integration
ENTRIES = 250_000
# Export works entry by entry (about 35k/s here): enough for several progress steps.
EXPORT_ENTRIES = 5 * COUNT_EVERY
RUN_TIMEOUT_S = 120.0
OPLGUARD = str(Path(sys.executable).with_name("oplguard"))


def write_big_config(folder: Path, entries: int) -> Path:
    """The sample config, its opl list replaced by ``entries`` addresses of 10.0.0.0/8."""
    config = config_writer(folder)()
    lines = (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} open proxy\n" for i in range(entries))
    (folder / "lists" / "opl.txt").write_text("".join(lines), encoding="ascii")
    return config


@pytest.fixture(scope="module")
def big_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """More than one chunk of list: a progress line is drawn before the load ends."""
    config = write_big_config(tmp_path_factory.mktemp("progress"), ENTRIES)
    assert (config.parent / "lists" / "opl.txt").stat().st_size > CHUNK_BYTES
    return config


def run_on_pty(command: list[str]) -> tuple[int, str]:
    """Run ``command`` with stderr on a new pseudo-terminal; (exit code, what it drew there)."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    drawn = bytearray()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal's last descriptor
                break
            if not chunk:
                break
            drawn += chunk
        code = proc.wait(RUN_TIMEOUT_S)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
    return code, drawn.decode("utf-8", errors="replace")


def run_on_pipe(command: list[str]) -> tuple[int, str, str]:
    done = subprocess.run(
        command, capture_output=True, timeout=RUN_TIMEOUT_S, check=False, text=True
    )
    return done.returncode, done.stdout, done.stderr


def test_check_config_shows_load_progress_on_a_terminal(big_config: Path) -> None:
    code, drawn = run_on_pty([OPLGUARD, "check-config", str(big_config)])
    assert code == 0, drawn
    # A progress line while reading (bytes, share, rate, time left), then the summary.
    assert "\rloading opl: " in drawn and " MiB/s, " in drawn and " left\x1b[K" in drawn, drawn
    assert f"loaded opl: {ENTRIES:,} entries, " in drawn
    assert "loaded zombies: " in drawn  # every list, each on its own line


def test_check_config_is_quiet_off_a_terminal(big_config: Path) -> None:
    code, out, err = run_on_pipe([OPLGUARD, "check-config", str(big_config)])
    assert code == 0 and "OK (" in out
    assert err == ""


def test_export_shows_progress_on_a_terminal_and_not_on_a_pipe(tmp_path: Path) -> None:
    config = write_big_config(tmp_path, EXPORT_ENTRIES)
    target = tmp_path / "out.txt"
    command = [OPLGUARD, "lists", "export", "--format", "plain", "--list", "opl",
               "--config", str(config), "--output", str(target)]  # fmt: skip
    code, drawn = run_on_pty(command)
    assert code == 0, drawn
    assert "\rexporting: " in drawn and " entries/s, " in drawn and " left\x1b[K" in drawn, drawn
    assert f"exporting: {EXPORT_ENTRIES:,} entries in " in drawn
    assert target.read_bytes().count(b"\n") == EXPORT_ENTRIES
    code, out, err = run_on_pipe(command)
    assert code == 0 and out == ""
    assert err == f"wrote {target}\n"  # the one line it always printed, no progress
