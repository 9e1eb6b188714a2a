"""The real spamc (Debian package) against oplguard serve, in each mode."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from oplguard.config.model import Listener
from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer, need
from tests.samples import message

pytestmark = pytest.mark.integration
SPAMC_TIMEOUT_S = 30


def spamc(
    args: list[str], data: bytes, port: int | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the real spamc; ``port`` adds ``-d 127.0.0.1 -p PORT``."""
    target = ["-d", "127.0.0.1", "-p", str(port)] if port is not None else []
    return subprocess.run(
        [need("spamc"), *target, *args],
        input=data,
        capture_output=True,
        timeout=SPAMC_TIMEOUT_S,
        check=False,
    )


@pytest.fixture
def running(write_config: ConfigWriter) -> Iterator[RunningServer]:
    with RunningServer(write_config()) as server:
        yield server


@pytest.fixture
def port(running: RunningServer) -> int:
    return running.address()[1]


def test_spamc_check_clean_is_ham(port: int) -> None:
    result = spamc(["-c"], message("clean.eml"), port)
    assert result.stdout == b"0.0/5.0\n"
    assert result.returncode == 0


def test_spamc_check_listed_connecting_ip_is_spam(port: int) -> None:
    result = spamc(["-c"], message("listed-connecting.eml"), port)
    assert result.stdout == b"10.0/5.0\n"
    assert result.returncode == 1


def test_spamc_symbols_names_the_rule(port: int) -> None:
    result = spamc(["-y"], message("listed-connecting.eml"), port)
    assert result.stdout.strip() == b"OPL_CONNECTING"


def test_spamc_report_names_ip_hop_and_list(port: int) -> None:
    result = spamc(["-R"], message("listed-deep.eml"), port)
    text = result.stdout.decode()
    assert text.startswith("8.0/5.0\n")
    assert "OPL_RELAY" in text
    assert "203.0.113.66 at hop 3" in text
    assert "opl (open-proxy)" in text
    assert "Open Proxy sender violation" in text


def test_spamc_report_ifspam_is_quiet_for_ham(port: int) -> None:
    # spamc tests the Spam: flag for "true" while spamd says Yes/No for
    # REPORT_IFSPAM, so spamc prints nothing for both (spamd-protocol.md §8).
    result = spamc(["-r"], message("clean.eml"), port)
    assert result.returncode == 0
    assert result.stdout == b""


def test_spamc_exit_code_mode(port: int) -> None:
    assert spamc(["-E"], message("listed-connecting.eml"), port).returncode == 1
    assert spamc(["-E"], message("clean.eml"), port).returncode == 0


def test_spamc_ping(port: int) -> None:
    result = spamc(["-K"], b"", port)
    assert result.returncode == 0
    assert result.stdout.startswith(b"SPAMD/1.5 0")


def test_spamc_process_adds_headers_and_keeps_body(port: int) -> None:
    result = spamc([], message("listed-deep.eml"), port)
    out = result.stdout
    assert b"X-Spam-Status: Yes, score=8.0 required=5.0 tests=OPL_RELAY" in out
    assert b"X-Spam-Flag: YES" in out
    assert b"X-Oplguard-Verdict: delete; ip=203.0.113.66; hop=3; list=opl;" in out
    assert out.endswith(b"\nThe open proxy is three hops deep.\n")


def test_spamc_headers_mode_reattaches_body(port: int) -> None:
    result = spamc(["--headers"], message("clean.eml"), port)
    assert b"X-Spam-Status: No, score=0.0 required=5.0" in result.stdout
    assert result.stdout.endswith(b"\r\n\r\nhello\r\n")


def test_spamc_compressed(port: int) -> None:
    result = spamc(["-z", "-c"], message("listed-connecting.eml"), port)
    if result.returncode == 64 and not result.stdout:
        # Debian's spamc is built without zlib; aiospamc covers Compress (test_actions).
        pytest.skip("this spamc has no -z support")
    assert result.stdout == b"10.0/5.0\n"


def test_spamc_learn_without_allow_tell_fails_cleanly(port: int) -> None:
    result = spamc(["-L", "spam"], message("clean.eml"), port)
    assert result.returncode != 0


def test_spamc_unix_socket(write_config: ConfigWriter, tmp_path: Path) -> None:
    sock = tmp_path / "spamd.sock"
    with RunningServer(write_config(), (Listener("unix", path=str(sock)),)):
        result = spamc(["-U", str(sock), "-c"], message("listed-connecting.eml"))
    assert result.stdout == b"10.0/5.0\n"


def test_spamc_ssl(write_config: ConfigWriter, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    cfg = write_config(server=f'[server.tls]\ncert = "{cert}"\nkey = "{key}"\n')
    with RunningServer(cfg, (Listener("tls", "127.0.0.1", 0),)) as server:
        port = server.address("tls")[1]
        check = spamc(["--ssl", "-c"], message("listed-connecting.eml"), port)
        report = spamc(["--ssl", "-R"], message("listed-deep.eml"), port)
        process = spamc(["--ssl"], message("clean.eml"), port)
    assert check.stdout == b"10.0/5.0\n", check.stderr
    assert b"203.0.113.66 at hop 3" in report.stdout
    assert b"X-Spam-Status: No" in process.stdout


def test_spamc_safe_fallback_when_server_refuses(write_config: ConfigWriter) -> None:
    cfg = write_config(server='allowed_ips = ["127.0.0.2"]')
    with RunningServer(cfg) as server:
        result = spamc(["-c"], message("listed-connecting.eml"), server.address()[1])
    # Not allowed: closed without an answer, spamc falls back to 0/0.
    assert result.stdout == b"0/0\n"
