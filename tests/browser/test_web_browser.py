"""The lookup and delisting pages in a real browser: Debian's chromium driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium
(scripts/bootstrap.sh --test installs the Debian package) with the flags this
machine's closed network needs.  The web service runs on loopback with a real
nsd for reverse DNS; the approval goes through ``oplguard removals approve``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import ConfigWriter
from tests.integration.web_harness import ADMIN_TOKEN, RunningWeb, nsd, write_web_config

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Each page step; generous for a loaded 2-core machine, never a sleep.
STEP_TIMEOUT_MS = 15_000
# OPLGUARD_SCREENSHOT=docs/images/lookup-page.png refreshes the README's picture.
SCREENSHOT_ENV = "OPLGUARD_SCREENSHOT"

if not CHROMIUM.exists():
    pytest.skip(
        "chromium is not installed (scripts/bootstrap.sh --test installs it as root)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")


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


@pytest.fixture
def site(write_config: ConfigWriter, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with nsd() as dns:
        config = write_web_config(write_config, tmp_path, dns=dns, dns_timeout_s=5)
        with RunningWeb(config) as web:
            yield web.url, config


def new_page(browser: object) -> object:
    context = browser.new_context(viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    return page


def look_up(page: object, url: str, ip: str) -> None:
    page.goto(url)  # type: ignore[attr-defined]
    page.fill("#ip", ip)  # type: ignore[attr-defined]
    page.click("form.lookup button")  # type: ignore[attr-defined]
    page.wait_for_selector("#verdict")  # type: ignore[attr-defined]


def test_lookup_listed_ipv4_shows_reason_and_diagnostics(
    browser: object, site: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = site
    page = new_page(browser)
    look_up(page, url, "192.0.2.137")
    expect = sync_api.expect
    expect(page.locator("#verdict h1")).to_have_text("192.0.2.137 is listed")
    row = page.locator('tr[data-list="opl"]')
    expect(row.locator(".state")).to_have_text("Listed")
    expect(row.locator(".reason")).to_have_text("Open HTTP proxy on port 3128 (Squid, no ACL)")
    expect(page.locator("#advice")).to_contain_text("unauthenticated relay")
    expect(page.locator(".rdns-ptr")).to_contain_text("dsl-192-0-2-137.pool.isp.test")
    expect(page.locator(".rdns-generic")).to_contain_text("192-0-2-137")
    shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "lookup-page.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_lookup_listed_ipv6_and_unlisted(browser: object, site: tuple[str, Path]) -> None:
    url, _ = site
    page = new_page(browser)
    look_up(page, url, "2001:db8:c0de:2::17")
    expect = sync_api.expect
    expect(page.locator("#verdict h1")).to_have_text("2001:db8:c0de:2::17 is listed")
    expect(page.locator(".rdns-fcrdns")).to_contain_text("resolves back")
    look_up(page, url, "198.51.100.1")
    expect(page.locator("#verdict h1")).to_have_text("198.51.100.1 is not listed")
    expect(page.locator("#removal")).to_have_count(0)
    look_up_error = page.goto(f"{url}/lookup?ip=%3Cscript%3Ealert(1)%3C/script%3E")  # type: ignore[attr-defined]
    assert look_up_error.status == 400
    expect(page.locator("#lookup-error")).to_contain_text("<script>alert(1)</script>")


def test_file_approve_and_see_the_status_change(browser: object, site: tuple[str, Path]) -> None:
    url, config = site
    page = new_page(browser)
    expect = sync_api.expect
    look_up(page, url, "192.0.2.99")
    page.fill("#email", "postmaster@example.net")
    page.fill("#explanation", "Closed port 8080 and added an ACL to the proxy.")
    page.click("#removal button")
    expect(page.locator("#request-status")).to_have_text("pending")
    request_id = page.locator("#request-id").inner_text()
    assert re.fullmatch(r"[a-z2-7]{16}", request_id)
    status_url = page.url
    subprocess.run(
        [sys.executable, "-m", "oplguard", "removals", "approve", request_id,
         "--note", "Thanks, delisted.", "--config", str(config)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    page.goto(status_url)
    expect(page.locator("#request-status")).to_have_text("approved")
    expect(page.locator("#request-note")).to_have_text("Thanks, delisted.")


def test_approve_from_the_admin_page(browser: object, site: tuple[str, Path]) -> None:
    url, _ = site
    requester, admin = new_page(browser), new_page(browser)
    expect = sync_api.expect
    look_up(requester, url, "203.0.113.66")
    requester.fill("#email", "noc@example.org")
    requester.fill("#explanation", "Removed the SOCKS proxy.")
    requester.click("#removal button")
    request_id = requester.locator("#request-id").inner_text()
    admin.goto(f"{url}/admin")
    admin.fill("#token", ADMIN_TOKEN)
    admin.click("text=Log in")
    card = admin.locator(f"#req-{request_id}")
    expect(card).to_contain_text("Removed the SOCKS proxy.")
    card.locator("input[name=note]").fill("Confirmed closed.")
    card.locator("button[value=approve]").click()
    expect(admin.locator(".notice")).to_contain_text(request_id)
    requester.reload()
    expect(requester.locator("#request-status")).to_have_text("approved")
    expect(requester.locator("#request-note")).to_have_text("Confirmed closed.")
    look_up(requester, url, "203.0.113.66")
    expect(requester.locator("#verdict h1")).to_have_text("203.0.113.66 is not listed")
