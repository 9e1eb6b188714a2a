"""A ``unix:`` listener path that exists and is not a socket is refused, never deleted
(issue 13 §7): ``oplguard serve`` and ``oplguard policyd`` exit 78 with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.service_process import oplguard

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("command", "table"), [("serve", "server"), ("policyd", "policyd")])
def test_regular_file_at_the_socket_path_is_refused(
    tmp_path: Path, command: str, table: str
) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("not a socket\n")
    config = tmp_path / "oplguard.toml"
    config.write_text(f'[{table}]\nlisten = ["unix:{precious}"]\n')
    result = oplguard(command, "--config", str(config))
    assert result.returncode == 78, result.stderr
    assert result.stderr.count("\n") == 1 and "exists and is not a socket" in result.stderr
    assert precious.read_text() == "not a socket\n"
