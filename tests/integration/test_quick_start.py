"""README "Quick start", as written, for a user without root: the embedded sample config,
``--listen`` on a user port, the real spamc with ``-p``, then explain and track."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.harness import need
from tests.integration.service_process import READY_DEADLINE_S, wait_for
from tests.samples import MESSAGES

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DEEP = MESSAGES / "listed-deep.eml"


def run(*args: str, env: dict[str, str], data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*args], input=data, capture_output=True, timeout=60, check=False, env=env, cwd=ROOT
    )


def test_quick_start_as_written_for_a_user_port() -> None:
    if Path("/etc/oplguard/oplguard.toml").exists():
        pytest.skip("/etc/oplguard/oplguard.toml exists: the quick start's commands would read it")
    quick = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert 'make serve ARGS="--listen 127.0.0.1:7830"' in quick
    assert "spamc -p 7830 -c < tests/data/messages/listed-deep.eml" in quick
    # The sample's state paths are under ~: a short HOME keeps the control socket's path
    # within the 108 bytes a unix socket address holds.
    home = Path(tempfile.mkdtemp(prefix="qs", dir="/tmp"))
    env = {**os.environ, "HOME": str(home)}
    oplguard = [sys.executable, "-m", "oplguard"]
    # The README's port 7830, except that a parallel test run may hold it: port 0 here.
    serve = subprocess.Popen(
        [*oplguard, "serve", "--listen", "127.0.0.1:0"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening() -> int:
            status = run(*oplguard, "status", "--json", env=env)
            if status.returncode != 0:
                assert serve.poll() is None, "oplguard serve exited"
                return 0
            return int(json.loads(status.stdout)["listening"][0].rsplit(":", 1)[1])

        port = wait_for(listening, READY_DEADLINE_S)
        checked = run(need("spamc"), "-p", str(port), "-c", env=env, data=DEEP.read_bytes())
        assert checked.stdout.decode().strip() == "8.0/5.0"
        explained = run(*oplguard, "explain", str(DEEP.relative_to(ROOT)), env=env)
        assert b"203.0.113.66 at hop 3 is listed on opl" in explained.stdout
        deadline = time.monotonic() + READY_DEADLINE_S
        while (
            b"deep-1@example.com"
            not in (tracked := run(*oplguard, "track", "--ip", "203.0.113.66", env=env)).stdout
        ):
            assert time.monotonic() < deadline, tracked
            time.sleep(0.2)
    finally:
        serve.terminate()
        serve.wait(READY_DEADLINE_S)
        shutil.rmtree(home, ignore_errors=True)
