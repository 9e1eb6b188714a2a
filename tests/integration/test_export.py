"""`oplguard lists export`: the rbldnsd export served by a real rbldnsd, queried back."""

from __future__ import annotations

from pathlib import Path

import pytest

from oplguard.cli import main
from oplguard.config.model import DnsblConfig
from oplguard.lists.dnsbl import AnswerStatus, DnsblSource
from tests.conftest import ConfigWriter
from tests.integration.dns import rbldnsd

pytestmark = pytest.mark.integration


async def test_rbldnsd_export_round_trip(write_config: ConfigWriter, tmp_path: Path) -> None:
    extra = '[[allowed_senders]]\nip = "203.0.113.66"\nscope = "hop"\n'
    cfg = write_config(extra=extra)
    prefix = tmp_path / "export" / "opl"
    prefix.parent.mkdir()
    assert (
        main(
            [
                "lists",
                "export",
                "--format",
                "rbldnsd",
                "--config",
                str(cfg),
                "--output",
                str(prefix),
            ]
        )
        == 0
    )
    zones = {
        "opl.ip4set": ("export.test:ip4set", (prefix.parent / "opl.ip4set").read_text()),
        "opl.ip6trie": ("export.test:ip6trie", (prefix.parent / "opl.ip6trie").read_text()),
    }
    with rbldnsd(zones) as port:
        source = DnsblSource(
            DnsblConfig(
                "exported", "export.test", nameservers=(f"127.0.0.1:{port}",), timeout_s=1.0
            )
        )
        listed = await source.query("192.0.2.99")
        allowed = await source.query("203.0.113.66")
        clean = await source.query("192.0.2.10")
        v6 = await source.query("2001:db8:bad::1")
    assert listed.status == AnswerStatus.LISTED
    assert allowed.status == AnswerStatus.CLEAN  # carved out by the allow-list entry
    assert clean.status == AnswerStatus.CLEAN
    assert v6.status == AnswerStatus.LISTED


@pytest.mark.parametrize("fmt", ["postfix-cidr", "rspamd", "plain"])
def test_single_file_exports(write_config: ConfigWriter, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    assert (
        main(
            [
                "lists",
                "export",
                "--format",
                fmt,
                "--config",
                str(write_config()),
                "--list",
                "opl",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "192.0.2.99/32" in text
    assert "2001:db8:bad::/48" in text


def test_unwritable_output_is_one_clear_line(
    write_config: ConfigWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "out.txt"
    args = ["lists", "export", "--format", "plain", "--config", str(write_config())]
    assert main([*args, "--output", str(target)]) == 73  # EX_CANTCREAT: an output file
    assert capsys.readouterr().err == (
        f"oplguard lists: cannot write {target}: No such file or directory\n"
    )
    assert not list(tmp_path.glob("**/*.tmp"))
