"""Config that would disable the filter is refused (issue 13 §6): one line, exit 78."""

from __future__ import annotations

from pathlib import Path

import pytest

from oplguard.cli import main
from oplguard.config import loader as config_loader
from oplguard.errors import ConfigError

CASES = {
    "tiny-max-message-bytes": ("[server]\nmax_message_bytes = 100\n", 2, "would cut every message"),
    "infinite-required-score": ("[scoring]\nrequired_score = inf\n", 2, "every message ham"),
    "nan-required-score": ("[scoring]\nrequired_score = nan\n", 2, "every message ham"),
    "huge-required-score": ("[scoring]\nrequired_score = 1e300\n", 2, "every message ham"),
    "infinite-score": ("[scores]\nOPL_RELAY = -inf\n", 2, "is not a score"),
    "infinite-timeout": ("[server]\nrequest_timeout_s = inf\n", 2, "not a finite number"),
    "nan-max-connections": ("[server]\nmax_connections = nan\n", 2, "not a finite number"),
    "zero-max-connections": ("[server]\nmax_connections = 0\n", 2, "at least 1"),
    "socket-mode": ("[server]\nunix_socket_mode = 99999999\n", 2, "not a file mode"),
    "tiny-scan-budget": ("[scoring]\nscan_cpu_budget_ms = 0\n", 2, "scan_cpu_budget_ms below"),
    "huge-integer": ("[server]\nmax_connections = " + "9" * 5000 + "\n", 0, "not valid TOML"),
    "integer-beyond-float": ("[scoring]\nrequired_score = " + "9" * 400 + "\n", 0, "out of range"),
    "deeply-nested": ("x = " + "[" * 5000 + "]" * 5000 + "\n", 0, "nested too deeply"),
}


@pytest.mark.parametrize(("text", "line", "needle"), CASES.values(), ids=CASES.keys())
def test_refused_with_file_line_and_fix(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = tmp_path / "oplguard.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        config_loader.load(path)
    assert caught.value.path == str(path)
    assert caught.value.line == line
    assert needle in str(caught.value) and "(fix: " in str(caught.value)


@pytest.mark.parametrize("name", ["tiny-max-message-bytes", "deeply-nested", "huge-integer"])
def test_check_config_prints_one_line_and_exits_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / "oplguard.toml"
    path.write_text(CASES[name][0])
    assert main(["check-config", str(path)]) == 78
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and str(path) in err, err


def test_sane_values_still_load(tmp_path: Path) -> None:
    path = tmp_path / "oplguard.toml"
    path.write_text(
        "[server]\nmax_message_bytes = 32768\nmax_connections = 1\nunix_socket_mode = 0o600\n"
        "[scoring]\nrequired_score = -3.5\nscan_cpu_budget_ms = 10\n[scores]\nOPL_RELAY = 1000\n"
    )
    cfg = config_loader.load(path)
    assert (cfg.server.max_message_bytes, cfg.scoring.required_score) == (32768, -3.5)
