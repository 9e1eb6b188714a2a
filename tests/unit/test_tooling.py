"""Contributor tooling: test deadlines, the fast lane, the lint lane, the pre-commit hooks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = ROOT / ".pre-commit-config.yaml"
REQUIRED_HOOKS = {"ruff", "ruff-format", "mypy", "yamllint", "ansible-lint"}


def make_target(name: str) -> tuple[list[str], list[str]]:
    """(prerequisites, recipe lines) of one Makefile target."""
    text = (ROOT / "Makefile").read_text()
    found = re.search(rf"^{re.escape(name)}:([^\n#]*)(?:#[^\n]*)?\n((?:\t[^\n]*\n)*)", text, re.M)
    assert found is not None, f"no make target {name}"
    return found.group(1).split(), [line.strip() for line in found.group(2).splitlines()]


def test_every_test_has_a_deadline() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert 60 <= int(options["timeout"]) <= 600
    molecule = (ROOT / "tests" / "ansible" / "test_molecule.py").read_text()
    assert "pytest.mark.timeout(TIMEOUT_S + 600)" in molecule


def test_lint_and_typecheck_need_no_root_bootstrap() -> None:
    for target in ("lint", "typecheck", "test-fast"):
        prerequisites, _ = make_target(target)
        assert prerequisites == ["bootstrap-dev"], target
    _, recipe = make_target("bootstrap-dev")
    assert recipe == ["@scripts/bootstrap.sh --dev"]
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    # apt only runs for --test: both apt blocks are guarded by want_test, --dev never sets it.
    assert re.search(r"--dev\) want_tools=1 ;;", bootstrap)
    assert bootstrap.count('[ "$want_test" = 1 ] && [ "$(id -u)" = 0 ]') == 2


def test_fast_lane_runs_unit_and_property_tests_only() -> None:
    _, recipe = make_target("test-fast")
    assert recipe == ["$(VENV)/pytest -q -p no:cacheprovider tests/unit tests/fuzz"]


def test_pre_commit_hooks_are_local_and_complete() -> None:
    config = yaml.safe_load(PRE_COMMIT.read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert all(repo["repo"] == "local" for repo in config["repos"])
    assert set(hooks) >= REQUIRED_HOOKS
    for hook in hooks.values():
        if hook["language"] == "system":
            program = hook["entry"].split()[0]
            assert program.startswith(".venv/bin/"), hook["id"]
    pins = (ROOT / "scripts" / "fleet" / "requirements.txt").read_text().split()
    for name in ("yamllint", "ansible-lint"):
        assert set(hooks[name]["additional_dependencies"]) <= set(pins), name
    assert ".yamllint" in hooks["yamllint"]["entry"]
    assert ".ansible-lint" in hooks["ansible-lint"]["entry"]
