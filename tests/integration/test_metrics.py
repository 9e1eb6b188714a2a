"""The Prometheus endpoint of a real server, scraped and parsed with prometheus_client's parser."""

from __future__ import annotations

import asyncio
import urllib.request

import aiospamc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.samples import message

pytestmark = pytest.mark.integration
ALLOW = '[[allowed_senders]]\nip = "203.0.113.66"\nscope = "hop"\n'


def scrape(address: tuple[str, int]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_actions_hits_lookups_reloads_and_levels(
    write_config: ConfigWriter,
) -> None:
    config = write_config(top='[metrics]\nlisten = "127.0.0.1:0"\n')
    with RunningServer(config) as running:
        assert running.server is not None
        address = running.server.obs.metrics_address
        assert address is not None
        _, port = running.address()

        async def send() -> None:
            for name in ("listed-deep.eml", "clean.eml", "listed-connecting.eml"):
                await aiospamc.check(message(name), host="127.0.0.1", port=port)

        asyncio.run(send())
        assert running.reload()
        got = scrape(address)
    assert got[("oplguard_messages_total", (("action", "delete"),))] >= 1
    assert got[("oplguard_messages_total", (("action", "pass"),))] == 1
    assert got[("oplguard_list_hits_total", (("hop", "3"), ("list", "opl")))] == 1
    assert got[("oplguard_list_lookup_seconds_count", (("list", "local"),))] >= 3
    assert got[("oplguard_reloads_total", (("result", "ok"),))] == 1
    assert got[("oplguard_connections_total", ())] == 3
    assert got[("oplguard_log_level", (("component", "relays"),))] in (10, 20, 30, 40, 50)
    assert ("oplguard_uptime_seconds", ()) in got


def test_allow_overrides_are_counted(write_config: ConfigWriter) -> None:
    config = write_config(top='[metrics]\nlisten = "127.0.0.1:0"\n', extra=ALLOW)
    with RunningServer(config) as running:
        assert running.server is not None
        address = running.server.obs.metrics_address
        assert address is not None
        _, port = running.address()
        asyncio.run(aiospamc.check(message("listed-deep.eml"), host="127.0.0.1", port=port))
        got = scrape(address)
    # 203.0.113.66 (hop 3) is on opl: the allow entry overrides that hit.
    assert got[("oplguard_allow_overrides_total", (("scope", "hop"),))] == 1
    assert got[("oplguard_messages_total", (("action", "pass"),))] == 1


def test_unusable_metrics_address_is_logged_and_scoring_continues(
    write_config: ConfigWriter, caplog: pytest.LogCaptureFixture
) -> None:
    first = write_config(top='[metrics]\nlisten = "127.0.0.1:0"\n', name="a.toml")
    with RunningServer(first) as holder:
        assert holder.server is not None and holder.server.obs.metrics_address is not None
        taken = "{}:{}".format(*holder.server.obs.metrics_address)
        second = write_config(top=f'[metrics]\nlisten = "{taken}"\n', name="b.toml")
        with RunningServer(second) as running:
            _, port = running.address()
            response = asyncio.run(
                aiospamc.check(message("listed-deep.eml"), host="127.0.0.1", port=port)
            )
            assert response.headers["Spam"].value is True
    assert f"metrics: cannot listen on {taken}" in caplog.text
