"""[web.notify] config, the retry schedule and the notice text (delivery itself: integration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ConfigWriter

from oplguard.config import loader as config_loader
from oplguard.config.model import NotifyConfig
from oplguard.errors import ConfigError
from oplguard.removals.model import AuditEntry, Contact
from oplguard.removals.notify import MAX_ATTEMPTS, RETRY_MAX_S, backoff_s, deliver_due, notices
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import DeliveryStatus, RequestStatus
from oplguard.storage.db import Database


def load_notify(write_config: ConfigWriter, body: str) -> NotifyConfig:
    return config_loader.load(write_config(extra=f"\n[web]\n\n[web.notify]\n{body}\n")).web.notify


def test_off_by_default(write_config: ConfigWriter) -> None:
    assert config_loader.load(write_config()).web.notify == NotifyConfig()
    assert not NotifyConfig().enabled


def test_values_and_the_password_never_shows(write_config: ConfigWriter, tmp_path: Path) -> None:
    (tmp_path / "smtp.password").write_text("s3cret-pass\n")
    notify = load_notify(
        write_config,
        'enabled = true\nhost = "smtp.example.net"\nport = 587\nfrom = "oplguard@example.net"\n'
        'starttls = true\nusername = "oplguard"\npassword_file = "smtp.password"',
    )
    assert (notify.host, notify.port, notify.starttls) == ("smtp.example.net", 587, True)
    assert (notify.username, notify.password) == ("oplguard", "s3cret-pass")
    assert "s3cret" not in repr(notify)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("enabled = true", "from address"),
        ('enabled = true\nfrom = "x@example.net"\nport = 0', "bad port"),
        ('enabled = true\nfrom = "x <y@example.net>"', "from address"),
        ('from = "x@example.net"\nusername = "u"', "password_file"),
        ('from = "x@example.net"\nusername = "u"\npassword_file = "missing"', "cannot read"),
        ("relay = 1", "unknown key"),
    ],
    ids=["no-from", "port", "header-injection", "auth-half", "no-password-file", "unknown"],
)
def test_errors_name_file_line_and_fix(write_config: ConfigWriter, body: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        load_notify(write_config, body)
    assert caught.value.line > 0 and caught.value.fix


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff_s(n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    assert backoff_s(MAX_ATTEMPTS) == RETRY_MAX_S


def test_a_relay_that_never_answers_ends_failed_shown_and_audited(tmp_path: Path) -> None:
    """Nothing listens on the port: every attempt fails until the notice is given up."""
    store = RemovalStore(Database(f"sqlite:///{tmp_path / 'r.db'}"), notify=True)
    try:
        contact = Contact("postmaster@example.net", "fixed", "198.51.100.7", 1.0)
        rid = store.submit("192.0.2.99", ["opl"], contact)[0].id
        denied = RequestStatus.DENIED
        store.decide(rid, denied, AuditEntry(2.0, rid, "cli:t", denied, "no"))
        cfg = NotifyConfig(enabled=True, host="127.0.0.1", port=9, sender="o@example.net")
        now, seen = 2.0, []
        for _ in range(MAX_ATTEMPTS):
            (notice,) = deliver_due(store, cfg, now)
            seen.append(notice.status)
            now = notice.next_at
        assert seen == [DeliveryStatus.PENDING] * (MAX_ATTEMPTS - 1) + [DeliveryStatus.FAILED]
        assert deliver_due(store, cfg, now + RETRY_MAX_S) == []
        (shown,) = notices(store, undelivered=True)
        assert shown.status is DeliveryStatus.FAILED and "127.0.0.1:9" in shown.last_error
        # Stored as the plain word; read back as the member.
        assert store.db.query("SELECT status FROM removal_notices") == [("failed",)]
        assert store.audit(rid)[-1].action == "notice-failed"
    finally:
        store.db.close()


def test_approvals_queue_a_notice_only_when_applied(tmp_path: Path) -> None:
    store = RemovalStore(Database(f"sqlite:///{tmp_path / 'r.db'}"), notify=True)
    try:
        contact = Contact("postmaster@example.net", "fixed", "198.51.100.7", 1.0)
        rid = store.submit("192.0.2.99", ["opl"], contact)[0].id
        store.submit("192.0.2.99", ["opl"], contact)  # the same requester again: one notice
        entry = AuditEntry(2.0, rid, "cli:t", RequestStatus.APPROVED)
        store.decide(rid, RequestStatus.APPROVED, entry, host="h")
        assert notices(store) == []  # decided, not yet applied: nothing to tell yet
        store.complete(entry, ["removed"])
        assert [n.email for n in notices(store)] == ["postmaster@example.net"]
    finally:
        store.db.close()
