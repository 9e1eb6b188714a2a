"""Decision notices over real SMTP: an aiosmtpd sink started here, and a relay that is down.

The web service (real uvicorn) sends a notice when an admin decides; the sink
receives it with the request id, the decision and the note.  With the relay
down the notice stays queued, shown on /admin as pending delivery, and goes
out once the relay is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from oplguard.cli import main
from oplguard.config import loader as config_loader
from oplguard.removals.model import Contact
from oplguard.removals.notify import deliver_due, notices
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import DeliveryStatus
from oplguard.storage.db import Database
from oplguard.web.security import CSRF_COOKIE
from tests.conftest import ConfigWriter
from tests.integration.harness import free_port
from tests.integration.web_harness import ADMIN_TOKEN, RunningWeb, write_web_config

pytestmark = pytest.mark.integration
IO_TIMEOUT_S = 15.0
# Generous: the web service's sender runs right after the decision, on a loaded machine.
DELIVERY_DEADLINE_S = 30.0
BODY = {"ip": "192.0.2.99", "email": "postmaster@example.net", "explanation": "proxy closed"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Sink:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def sink(smtp_port: int) -> Iterator[Sink]:
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def notify_config(write_config: ConfigWriter, tmp_path: Path, port: int) -> Path:
    table = f"""
[web.notify]
enabled = true
host = "127.0.0.1"
port = {port}
from = "oplguard@lookup.example.net"
timeout_s = 5
"""
    return write_web_config(write_config, tmp_path, web=table)


def wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + DELIVERY_DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_decision_notice_reaches_a_real_smtp_server(
    write_config: ConfigWriter, tmp_path: Path, sink: Sink, smtp_port: int
) -> None:
    config = notify_config(write_config, tmp_path, smtp_port)
    with RunningWeb(config) as web, httpx.Client(base_url=web.url, timeout=IO_TIMEOUT_S) as http:
        rid = http.post("/api/v1/removals", json=BODY).json()["id"]
        decided = http.post(
            f"/api/v1/admin/removals/{rid}/approve", json={"note": "closed, thanks"}, headers=ADMIN
        )
        assert decided.status_code == 200, decided.text
        wait_for(lambda: sink.messages, "no notice reached the SMTP sink")
    (mail,) = sink.messages
    assert mail["To"] == "postmaster@example.net"
    assert mail["From"] == "oplguard@lookup.example.net"
    assert rid in mail["Subject"] and "approved" in mail["Subject"]
    body = mail.get_content()
    assert f"request {rid}" in body and "Decision: approved" in body
    assert "Note from the reviewer: closed, thanks" in body


def test_a_relay_that_is_down_is_retried_and_shown_as_pending_delivery(
    write_config: ConfigWriter, tmp_path: Path, smtp_port: int
) -> None:
    config = notify_config(write_config, tmp_path, smtp_port)  # nothing listens there yet
    cfg = config_loader.load(config)
    store = RemovalStore(Database(cfg.tracking_db))
    try:
        with (
            RunningWeb(config) as web,
            httpx.Client(base_url=web.url, timeout=IO_TIMEOUT_S) as http,
        ):
            rid = http.post("/api/v1/removals", json=BODY).json()["id"]
            denied = http.post(
                f"/api/v1/admin/removals/{rid}/deny", json={"note": "still open"}, headers=ADMIN
            )
            assert denied.status_code == 200, denied.text
            wait_for(lambda: [n for n in notices(store) if n.attempts], "no delivery attempt")
            (notice,) = notices(store)
            assert notice.status == DeliveryStatus.PENDING and notice.last_error
            assert notice.next_at > time.time()  # retried later, with backoff
            page = admin_page(http)
        assert "Notices pending delivery (1)" in page and "pending delivery" in page
        assert rid in page and "postmaster@example.net" in page
        sink = Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        try:
            (retried,) = deliver_due(store, cfg.web.notify, notice.next_at)
        finally:
            controller.stop()
        assert (retried.status, retried.attempts) == (DeliveryStatus.SENT, 2)
        (mail,) = sink.messages
        assert rid in mail["Subject"] and "Decision: denied" in mail.get_content()
        assert notices(store, undelivered=True) == []
        assert [e.action for e in store.audit(rid)][-1] == "notified"
    finally:
        store.db.close()


def admin_page(http: httpx.Client) -> str:
    http.get("/admin")
    token = http.cookies[CSRF_COOKIE]
    assert http.post("/admin/login", data={"csrf": token, "token": ADMIN_TOKEN}).status_code == 303
    return http.get("/admin").text


def test_the_cli_sends_at_once_and_shows_the_notice(
    write_config: ConfigWriter,
    tmp_path: Path,
    sink: Sink,
    smtp_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = str(notify_config(write_config, tmp_path, smtp_port))
    store = RemovalStore(Database(config_loader.load(Path(config)).tracking_db))
    try:
        contact = Contact("postmaster@example.net", "fixed", "198.51.100.7", time.time())
        rid = store.submit("192.0.2.99", ["opl"], contact)[0].id
    finally:
        store.db.close()
    assert main(["removals", "deny", rid, "--note", "still open", "--config", config]) == 0
    assert "notice sent to postmaster@example.net" in capsys.readouterr().err
    (mail,) = sink.messages
    assert "Note from the reviewer: still open" in mail.get_content()
    assert main(["removals", "show", rid, "--config", config]) == 0
    assert "notice to postmaster@example.net: sent, 1 attempt(s)" in capsys.readouterr().out
