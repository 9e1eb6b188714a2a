"""Postfix after DATA: spamc as a pipe content filter against ``oplguard serve``.

The recipe of docs/mta.md: smtpd hands every message to spamc, which asks
oplguard (PROCESS) and re-injects the rewritten message with sendmail;
``header_checks`` on the re-injection path DISCARDs what oplguard's verdict
says to delete ("Delete the message"), the rest is delivered, tagged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.integration.mta.common import free_port, need_program, role_template, swaks
from tests.integration.mta.postfix import Postfix, running_postfix
from tests.samples import message

pytestmark = pytest.mark.integration

# What the Ansible role oplguard_mta installs, with its default verdicts.
HEADER_CHECKS = role_template(
    "etc/postfix/oplguard_header_checks.j2",
    oplguard_mta_postfix_discard_verdicts=["delete", "reject"],
)


def filter_master(spamd_port: int, spamc_options: str = "") -> dict[str, list[str] | str]:
    """master.cf as docs/mta.md gives it, with the test's spamd port."""
    spamc = need_program("spamc") + spamc_options
    return {
        "smtpd": ["content_filter=oplguard:dummy"],
        "pickup": ["cleanup_service_name=oplguard_cleanup"],
        "services": (
            "oplguard  unix  -       n       n       -       10      pipe\n"
            "  user=nobody null_sender=\n"
            f"  argv={spamc} -d 127.0.0.1 -p {spamd_port} -e /usr/sbin/sendmail -oi "
            "-f ${sender} ${recipient}\n"
            "oplguard_cleanup unix n  -       n       -       0       cleanup\n"
            "  -o header_checks=regexp:{folder}/oplguard_header_checks\n"
        ),
    }


@pytest.fixture
def filtering(write_config: ConfigWriter, request: pytest.FixtureRequest) -> Iterator[Postfix]:
    action: str = getattr(request, "param", "delete")
    with (
        RunningServer(write_config(action=action)) as server,
        running_postfix(
            master=filter_master(server.address()[1]),
            needs_sendmail=True,
            files={"oplguard_header_checks": HEADER_CHECKS},
        ) as postfix,
    ):
        yield postfix


def body_headers(delivered: bytes) -> dict[str, str]:
    """The delivered message's header fields, last one wins."""
    head = delivered.split(b"\n\n", 1)[0].decode()
    unfolded = head.replace("\n\t", " ").replace("\n ", " ")
    return dict(line.split(": ", 1) for line in unfolded.splitlines() if ": " in line)


def test_clean_message_is_delivered_with_a_pass_verdict(filtering: Postfix) -> None:
    assert swaks(filtering.port, message("clean.eml")).returncode == 0
    (delivered,) = filtering.wait_for_messages(1)
    headers = body_headers(delivered)
    assert headers["X-Oplguard-Verdict"] == "pass"
    assert headers["X-Spam-Status"].startswith("No, score=0.0 required=5.0")
    assert b"\n\nhello\n" in delivered


def test_deep_listed_ip_with_delete_is_discarded(filtering: Postfix) -> None:
    assert swaks(filtering.port, message("listed-deep.eml")).returncode == 0
    line = filtering.wait_for_log(r"discard: header X-Oplguard-Verdict: delete;")
    # Hop 1 is Postfix's own Received line for the client.
    assert "ip=203.0.113.66; hop=4; list=opl" in line
    assert "oplguard verdict delete" in line
    # The next (clean) message arrives; the discarded one never does.
    assert swaks(filtering.port, message("clean.eml")).returncode == 0
    (delivered,) = filtering.wait_for_messages(1)
    assert b"<clean-1@example.org>" in delivered


@pytest.mark.parametrize("filtering", ["tag"], indirect=True)
def test_deep_listed_ip_with_tag_is_delivered_tagged(filtering: Postfix) -> None:
    assert swaks(filtering.port, message("listed-deep.eml")).returncode == 0
    (delivered,) = filtering.wait_for_messages(1)
    headers = body_headers(delivered)
    verdict = headers["X-Oplguard-Verdict"]
    assert verdict.startswith("tag; ip=203.0.113.66; hop=4; list=opl; reason=")
    assert headers["X-Spam-Flag"] == "YES"
    assert headers["X-Spam-Status"].startswith("Yes, score=8.0 required=5.0 tests=OPL_RELAY")
    # Postfix's own Received line for the loopback client stays on top.
    assert delivered.index(b"by mx.test.example (Postfix)") < delivered.index(b"mx.example.net")


@pytest.mark.parametrize("filtering", ["reject"], indirect=True)
def test_deep_listed_ip_with_reject_is_left_to_the_connection_check(filtering: Postfix) -> None:
    # "Reject SMTP Connection" looks at the connecting IP only (policyd's job).
    assert swaks(filtering.port, message("listed-deep.eml")).returncode == 0
    (delivered,) = filtering.wait_for_messages(1)
    assert body_headers(delivered)["X-Oplguard-Verdict"] == "pass"


def test_oplguard_down_delivers_unfiltered() -> None:
    # spamc's safe fallback passes the message on unchanged (spamd-protocol.md §8).
    with running_postfix(
        master=filter_master(free_port()),
        needs_sendmail=True,
        files={"oplguard_header_checks": HEADER_CHECKS},
    ) as postfix:
        assert swaks(postfix.port, message("listed-deep.eml")).returncode == 0
        (delivered,) = postfix.wait_for_messages(1)
    assert b"X-Oplguard-Verdict" not in delivered
    assert b"<deep-1@example.com>" in delivered


def test_oplguard_down_with_no_fallback_defers() -> None:
    # spamc -x -X: no safe fallback, "unavailable" becomes EX_TEMPFAIL (75),
    # which pipe(8) turns into a deferral: the message waits in the queue.
    with running_postfix(
        master=filter_master(free_port(), " -x -X"),
        needs_sendmail=True,
        files={"oplguard_header_checks": HEADER_CHECKS},
    ) as postfix:
        assert swaks(postfix.port, message("listed-deep.eml")).returncode == 0
        line = postfix.wait_for_log(r"relay=oplguard, .*status=deferred")
    assert "dsn=4." in line
