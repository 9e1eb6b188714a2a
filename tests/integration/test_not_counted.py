"""Listed at hop 4 with the group's action ``reject``: every answer names the hop as
listed and not counted, with the reason (explain, REPORT over real spamc, track, trace)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter
from tests.integration.harness import need
from tests.integration.service_process import ServiceProcess, oplguard, wait_for
from tests.samples import MESSAGES

pytestmark = pytest.mark.integration
HOP4 = MESSAGES / "listed-hop4.eml"
BECAUSE = (
    "group open_proxy_list has action reject, which checks the connecting IP only (this is hop 4)"
)
FAST = '[tracking]\nbatch_interval_s = 0.1\nhost = "mx1.test"\n'


def spamc_report(port: int) -> str:
    result = subprocess.run(
        [need("spamc"), "-d", "127.0.0.1", "-p", str(port), "-R"],
        input=HOP4.read_bytes(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.stdout.decode()


def test_listed_at_hop_4_with_action_reject_reads_right_everywhere(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    top = (
        f'control_socket = "{tmp_path / "c.sock"}"\nlog_format = "json"\n'
        f'tracking_db = "sqlite:///{tmp_path / "t.db"}"'
    )
    config = write_config(action="reject", top=top, extra=FAST)

    explained = oplguard("explain", "--config", str(config), str(HOP4))
    assert explained.returncode == 0, explained.stderr
    assert (
        f"NOT COUNTED: 203.0.113.66 at hop 4 is listed on opl (open-proxy) but not "
        f"counted: {BECAUSE}" in explained.stdout
    )
    assert "No relay IP is listed" not in explained.stdout
    as_json = json.loads(oplguard("explain", "--json", "--config", str(config), str(HOP4)).stdout)
    [hit] = as_json["hits"]
    assert (hit["ip"], hit["hop"], hit["counted"], hit["because"]) == (
        "203.0.113.66",
        4,
        False,
        BECAUSE,
    )
    assert as_json["action"] == "pass" and as_json["offending_ip"] is None

    with ServiceProcess(config, tmp_path / "serve.log") as service:
        traced = oplguard("trace", "--config", str(config), "--ip", "203.0.113.66")
        assert traced.returncode == 0, traced.stderr
        report = spamc_report(service.port)

        def tracked() -> str:
            return oplguard("track", "--config", str(config), "--ip", "203.0.113.66").stdout

        wait_for(lambda: "hop4-1@example.com" in tracked())
        wait_for(lambda: "not counted" in service.log.read_text())
    assert (
        f" hop 4: 203.0.113.66 on opl (open-proxy, listed since 2026-10-02) -> not counted: "
        f"{BECAUSE}" in report
    )
    assert "No relay IP is listed" not in report
    assert "Verdict: pass - No listed IP counts: 203.0.113.66 at hop 4" in report
    text = tracked()
    assert f"hop  4 203.0.113.66{' ' * 27} not counted:opl ({BECAUSE})" in text
    assert "clean" not in text.split("hop  4", 1)[1]
    log_lines = [json.loads(x) for x in service.log.read_text().splitlines() if x.startswith("{")]
    traced_lines = [x["message"] for x in log_lines if x.get("trace") == "203.0.113.66"]
    assert f"hop=4 ip=203.0.113.66 listed on opl, not counted: {BECAUSE}" in traced_lines


ALLOW_CONNECTING = (
    '\n[[allowed_senders]]\nip = "192.0.2.10"\nscope = "connection"\ncomment = "partner MX"\n'
)


@pytest.mark.parametrize(
    ("extra", "because"),
    [
        (
            ALLOW_CONNECTING,
            "the connecting IP 192.0.2.10 is allowed by entry 192.0.2.10 (connection scope, "
            "'partner MX'), so no hop is checked",
        ),
        ("disable", "group open_proxy_list is disabled"),
    ],
    ids=["connection-allowed", "group-disabled"],
)
def test_explain_names_the_listed_hop_that_does_not_count(
    write_config: ConfigWriter, extra: str, because: str
) -> None:
    config = write_config(extra=extra if extra == ALLOW_CONNECTING else "")
    if extra != ALLOW_CONNECTING:
        text = config.read_text().replace('symbol = "OPL"\n', 'symbol = "OPL"\nenabled = false\n')
        config.write_text(text)
    deep = str(MESSAGES / "listed-deep.eml")
    explained = oplguard("explain", "--config", str(config), deep)
    assert explained.returncode == 0, explained.stderr
    assert (
        f"NOT COUNTED: 203.0.113.66 at hop 3 is listed on opl (open-proxy) but not counted: "
        f"{because}" in explained.stdout
    )
    [hit] = json.loads(oplguard("explain", "--json", "--config", str(config), deep).stdout)["hits"]
    assert (hit["counted"], hit["because"]) == (False, because)
