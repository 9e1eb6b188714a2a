"""A screenshot of the operations page over the store of a ``bench.opsload`` run (the README's).

Starts ``oplguard web`` on mx1's config of that run (same store), logs in with
a throwaway admin token in Debian's chromium (Playwright, as the browser tests
do) and saves /admin/ops as a PNG.  ``--request IP`` first files a removal
request for IP through the JSON API, so the pending queue has something in it.

    .venv/bin/python -m bench.opsshot --folder /tmp/ops --window 1h --output ops-page.png
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
START_TIMEOUT_S = 30.0
STEP_TIMEOUT_MS = 30_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def web_config(folder: Path, token: str, port: int) -> Path:
    text = (folder / "mx1.toml").read_text()
    text += f'\n[web]\nlisten = "127.0.0.1:{port}"\nadmin_token = "{token}"\n'
    path = folder / "web-shot.toml"
    path.write_text(text)
    return path


def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("oplguard web exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("oplguard web did not start")


def file_request(url: str, ip: str) -> None:
    """A removal request through ``POST /api/v1/removals``, as a listed sender files one."""
    body = {"ip": ip, "email": f"noc@{ip.replace('.', '-')}.example.net",
            "explanation": "The proxy on this host is closed now."}  # fmt: skip
    request = urllib.request.Request(
        f"{url}/api/v1/removals", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        if reply.status not in (200, 201):
            raise RuntimeError(f"removal request for {ip}: HTTP {reply.status}")


def shoot(url: str, token: str, window: str, output: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_default_timeout(STEP_TIMEOUT_MS)
        page.goto(f"{url}/admin")
        page.fill("#token", token)
        page.click("text=Log in")
        page.goto(f"{url}/admin/ops?window={window}")
        page.wait_for_selector("#verdicts")
        page.screenshot(path=str(output), full_page=True)
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.opsshot", description=__doc__)
    parser.add_argument("--folder", type=Path, required=True, help="a bench.opsload folder")
    parser.add_argument("--window", default="1h")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--request", action="append", default=[], metavar="IP")
    args = parser.parse_args()
    token, port = secrets.token_urlsafe(24), free_port()
    config = web_config(args.folder, token, port)
    command = [str(Path(sys.executable).with_name("oplguard")), "web", "--config", str(config)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        for ip in args.request:
            file_request(f"http://127.0.0.1:{port}", ip)
        shoot(f"http://127.0.0.1:{port}", token, args.window, args.output)
    finally:
        proc.terminate()
        proc.wait(START_TIMEOUT_S)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
