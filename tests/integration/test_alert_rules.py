"""The shipped Prometheus alert rules: ``promtool test rules`` on their unit tests, and the
metrics they read checked on a real scrape of ``oplguard serve`` (``promtool check metrics``,
every name the rules use is served, and the list gauges say what a broken list file and a dead
DNS list look like)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ConfigWriter
from tests.integration.dns import opl_dns_tables, rbldnsd
from tests.integration.service_process import ServiceProcess

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("promtool") is None,
        reason="promtool (Debian package prometheus) is missing: scripts/bootstrap.sh --test",
    ),
]
ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "roles" / "oplguard_alerts" / "files" / "oplguard.rules.yml"
RULE_TESTS = ROOT / "tests" / "data" / "alerts" / "oplguard.rules.test.yml"
DEADLINE_S = 30.0
ZONES = {"opl4.zone": ("opl.test:ip4set", ":127.0.0.2:Open proxy\n192.0.2.99\n127.0.0.2\n")}
# Suffixes prometheus adds to a family's samples
SUFFIXES = ("_total", "_count", "_sum", "_bucket", "_created")


def promtool(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_rules_are_valid_and_pass_their_unit_tests() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_unit_test() -> None:
    alerts = set(re.findall(r"- alert: (\w+)", RULES.read_text()))
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert len(alerts) >= 7
    assert alerts == tested


def scrape_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=DEADLINE_S) as reply:
        return str(reply.read().decode())


def gauges(text: str) -> dict[tuple[str, str], float]:
    return {
        (sample.name, sample.labels.get("list", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def wait_for_scrape(url: str, key: tuple[str, str], value: float) -> str:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        text = scrape_text(url)
        if gauges(text).get(key) == value:
            return text
        assert time.monotonic() < deadline, f"{key} never became {value}: {gauges(text)}"
        time.sleep(0.3)


def test_real_scrape_passes_promtool_and_serves_every_name_the_rules_use(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    with rbldnsd(ZONES) as dns_port:
        cfg = write_config(
            top=f'control_socket = "{tmp_path / "control.sock"}"\n'
            '[metrics]\nlisten = "127.0.0.1:0"\n',
            extra=opl_dns_tables(dns_port),
            server="list_probe_interval_s = 0.5",
        )
        service = ServiceProcess(cfg, tmp_path / "serve.log").__enter__()
    try:
        url = str(service.status["metrics"])
        healthy = gauges(scrape_text(url))
        assert healthy[("oplguard_list_load_failed", "opl")] == 0
        assert healthy[("oplguard_list_entries", "opl")] > 10
        assert healthy[("oplguard_list_file_mtime_seconds", "opl")] == pytest.approx(
            (tmp_path / "lists" / "opl.txt").stat().st_mtime
        )
        # rbldnsd is gone: probes fail, the breaker opens; a list file turns bad.
        wait_for_scrape(url, ("oplguard_dnsbl_monitor_only", "opl-dns"), 1.0)
        (tmp_path / "lists" / "opl.txt").write_text("192.0.2.99\nthis is not an address\n")
        text = wait_for_scrape(url, ("oplguard_list_load_failed", "opl"), 1.0)
        got = gauges(text)
        assert got[("oplguard_list_entries", "opl")] == healthy[("oplguard_list_entries", "opl")]
        assert got[("oplguard_reloads_total", "")] >= 1
    finally:
        service.stop()
    checked = promtool("check", "metrics", stdin=text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # A labelled counter without children has a family but no sample yet: compare families.
    served = {family.name for family in text_string_to_metric_families(text)}
    used = {base(name) for name in re.findall(r"\b(oplguard_\w+)", RULES.read_text())}
    used -= {"oplguard_alerts"}
    assert len(used) >= 8, used
    assert used <= served, f"rules read metrics oplguard serve does not serve: {used - served}"


def base(name: str) -> str:
    """The family name of a sample name (``x_total`` -> ``x``)."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name
