"""The operations page in a real browser, over a store filled by a real load run.

Two ``oplguard serve`` processes (hosts mx1, mx2) score a few hundred messages
sent by aiospamc and Debian's spamc (``bench/opsload.py``) into one SQLite
store; ``oplguard web`` over the same store serves /admin/ops to Debian's
chromium (Playwright), as in test_web_browser.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bench.opsload import load_run
from tests.browser.test_web_browser import CHROMIUM_ARGS, STEP_TIMEOUT_MS
from tests.integration.web_harness import ADMIN_TOKEN, RunningWeb, free_udp_port

from oplguard.storage.db import Database

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.timeout(600)]
CHROMIUM = Path("/usr/bin/chromium")
# Bounded: about 20 s of load on the 2-core machine.
MESSAGES = 240
# OPLGUARD_OPS_SCREENSHOT=path.png keeps this page's picture (the README's comes from
# bench/opsshot.py over a longer load run).
SCREENSHOT_ENV = "OPLGUARD_OPS_SCREENSHOT"

if not CHROMIUM.exists():
    pytest.skip("chromium is not installed (scripts/bootstrap.sh --test)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def web_config(folder: Path) -> Path:
    """mx1's config with a [web] table: the web service reads the same store."""
    text = (folder / "mx1.toml").read_text()
    text += (
        f'\n[web]\nlisten = "127.0.0.1:0"\nadmin_token = "{ADMIN_TOKEN}"\n'
        f'dns_servers = ["127.0.0.1:{free_udp_port()}"]\ndns_timeout_s = 0.5\n'
    )
    path = folder / "web.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    """(web URL, messages per host) after the load run."""
    folder = tmp_path_factory.mktemp("ops")
    # Its own thread: Playwright's sync API may already run an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        tally = pool.submit(load_run, folder, MESSAGES).result()
    assert tally.failures == [] and tally.aiospamc + tally.spamc == MESSAGES
    if shutil.which("spamc"):
        assert tally.spamc > 0
    db = Database(f"sqlite:///{folder / 'oplguard.db'}")
    per_host = dict(db.query("SELECT host, COUNT(*) FROM oplguard_messages GROUP BY host"))
    db.close()
    assert sum(per_host.values()) == MESSAGES  # SIGTERM lost no record
    with RunningWeb(web_config(folder)) as web:
        yield web.url, per_host


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def is_problem(message: object) -> bool:
    """A console error; a failed load is judged by its response (is_failed)."""
    text: str = message.text  # type: ignore[attr-defined]
    return message.type == "error" and not text.startswith("Failed to load resource")  # type: ignore[attr-defined]


def is_failed(reply: object) -> bool:
    """An error answer, except the favicon chromium asks for by itself (the site has none)."""
    return reply.status >= 400 and not reply.url.endswith("/favicon.ico")  # type: ignore[attr-defined]


def logged_in(browser: object, url: str, seen: list[str], problems: list[str]) -> object:
    context = browser.new_context(viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.on("request", lambda request: seen.append(request.url))
    page.on("console", lambda msg: problems.append(msg.text) if is_problem(msg) else None)
    page.on("response", lambda reply: problems.append(reply.url) if is_failed(reply) else None)
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.goto(f"{url}/admin")
    page.fill("#token", ADMIN_TOKEN)
    page.click("text=Log in")
    page.click("text=Operations: verdicts, hits, offenders")
    page.wait_for_selector("#verdicts")
    return page


def test_ops_page_shows_the_load_run(
    browser: object, loaded: tuple[str, dict[str, int]], tmp_path: Path
) -> None:
    url, _ = loaded
    seen: list[str] = []
    problems: list[str] = []
    page = logged_in(browser, url, seen, problems)
    expect = sync_api.expect
    expect(page.locator("#ops-scope")).to_contain_text(f"{MESSAGES} message(s)")  # type: ignore[attr-defined]
    for name in ("Verdicts over time by action", "Hits by list", "Hits by hop depth",
                 "Top offending IPs"):  # fmt: skip
        expect(page.get_by_role("img", name=name)).to_be_visible()  # type: ignore[attr-defined]
    table = page.get_by_role("table", name="Verdicts per time bucket")  # type: ignore[attr-defined]
    expect(table).to_have_count(1)
    cells = table.locator("tbody td").all_text_contents()
    assert sum(int(cell) for cell in cells) == MESSAGES
    bars = page.locator("#chart-verdicts rect.bar")  # type: ignore[attr-defined]
    drawn = sum(int(bars.nth(i).get_attribute("data-value")) for i in range(bars.count()))
    assert drawn == MESSAGES
    lists = page.locator("#table-lists tbody th").all_text_contents()  # type: ignore[attr-defined]
    assert {"opl", "zombies"} <= set(lists)
    expect(
        page.locator('#table-overrides tr[data-network="198.18.50.0/28"] .used')
    ).not_to_have_text("0")  # type: ignore[attr-defined]
    expect(page.locator("#table-ips tbody th").first).to_contain_text("198.18.")  # type: ignore[attr-defined]
    assert problems == []  # no CSP violation, no script error
    assert all(address.startswith(url) for address in seen), seen
    shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "ops-page.png")
    page.screenshot(path=str(shot), full_page=True)  # type: ignore[attr-defined]
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_host_filter_in_the_browser(browser: object, loaded: tuple[str, dict[str, int]]) -> None:
    url, per_host = loaded
    page = logged_in(browser, url, [], [])
    page.select_option("#host", "mx2")  # type: ignore[attr-defined]
    page.click("form.ops-filter button")  # type: ignore[attr-defined]
    expect = sync_api.expect
    expect(page.locator("#ops-scope")).to_contain_text(f"{per_host['mx2']} message(s) from mx2")  # type: ignore[attr-defined]
    assert "host=mx2" in page.url  # type: ignore[attr-defined]
    page.select_option("#window", "1h")  # type: ignore[attr-defined]
    page.click("form.ops-filter button")  # type: ignore[attr-defined]
    cells = page.locator("#table-verdicts tbody td").all_text_contents()  # type: ignore[attr-defined]
    assert len(cells) == 12 * 4 and sum(int(cell) for cell in cells) == per_host["mx2"]
