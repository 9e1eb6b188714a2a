"""A real Exim with ``spamd_address`` pointing at ``oplguard serve``.

The data ACL of docs/mta.md: ``spam = nobody:true/defer_ok`` asks oplguard
(REPORT SPAMC/1.2), the verdict line of the report picks the action:
``reject`` refuses the message at the end of DATA, ``delete`` discards it,
anything else is delivered with the score and verdict headers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer
from tests.integration.mta.common import free_port, role_template, swaks
from tests.integration.mta.exim import Exim, running_exim
from tests.samples import message

pytestmark = pytest.mark.integration


# Fail open: ``warn spam = nobody:true/defer_ok`` (oplguard down: the check
# is skipped, the message accepted unscanned).  Fail closed: ``require spam =
# nobody:true`` (oplguard down: 451, the sender retries).  Exim folds
# $spam_report with a space after each newline: hence "^ ?" in the pattern.
def data_acl(defer_ok: bool = True) -> str:
    """acl_check_data: the statements the Ansible role oplguard_mta installs, then accept."""
    statements = role_template(
        "etc/exim4/oplguard_data.acl.j2", oplguard_mta_exim_fail_open=defer_ok
    )
    return "acl_check_data:\n" + statements + "  accept\n"


@pytest.fixture
def exim(write_config: ConfigWriter, request: pytest.FixtureRequest) -> Iterator[Exim]:
    action: str = getattr(request, "param", "delete")
    with (
        RunningServer(write_config(action=action)) as server,
        running_exim(f"spamd_address = 127.0.0.1 {server.address()[1]}", data_acl()) as running,
    ):
        yield running


def delivered_header(delivered: bytes, name: str) -> str:
    head = delivered.split(b"\n\n", 1)[0].decode()
    for line in head.replace("\n\t", " ").replace("\n ", " ").splitlines():
        if line.startswith(f"{name}: "):
            return line.split(": ", 1)[1]
    raise AssertionError(f"no {name} header in:\n{head}")


def test_clean_message_is_delivered_with_score_and_verdict(exim: Exim) -> None:
    assert swaks(exim.port, message("clean.eml")).returncode == 0
    (delivered,) = exim.wait_for_messages(1)
    assert delivered_header(delivered, "X-Spam-Score") == "0.0 (/)"
    assert delivered_header(delivered, "X-Oplguard-Verdict").startswith("pass; reason=")


def test_deep_listed_ip_with_delete_is_discarded(exim: Exim) -> None:
    result = swaks(exim.port, message("listed-deep.eml"))
    assert "250 OK" in result.stdout  # discard: the sender sees success
    line = exim.wait_for_log(r"oplguard: Open Proxy sender violation")
    assert "203.0.113.66 at hop" in line
    exim.wait_for_log(r"=> blackhole \(DATA ACL discarded recipients\)")
    assert exim.messages() == []


@pytest.mark.parametrize("exim", ["reject"], indirect=True)
def test_listed_connecting_ip_with_reject_is_refused_after_data(exim: Exim) -> None:
    result = swaks(exim.port, message("listed-connecting.eml"))
    # Exim wraps long replies: "550-5.7.1 ... is" / "550 listed on opl ...".
    assert (
        "550-5.7.1 Open Proxy sender violation: connecting IP 192.0.2.99 at hop 2" in result.stdout
    )
    assert "listed on opl (open-proxy)" in result.stdout
    exim.wait_for_log(r"rejected after DATA: 5\.7\.1 Open Proxy sender violation")
    assert exim.messages() == []


@pytest.mark.parametrize("exim", ["tag"], indirect=True)
def test_deep_listed_ip_with_tag_is_delivered_with_headers(exim: Exim) -> None:
    assert swaks(exim.port, message("listed-deep.eml")).returncode == 0
    (delivered,) = exim.wait_for_messages(1)
    assert delivered_header(delivered, "X-Spam-Score") == "8.0 (++++++++)"
    verdict = delivered_header(delivered, "X-Oplguard-Verdict")
    assert verdict.startswith('tag; reason="Open Proxy sender violation: relay IP')
    assert "203.0.113.66" in verdict


@pytest.mark.parametrize(
    ("defer_ok", "expected"), [(True, "250 OK"), (False, "451 Temporary local problem")]
)
def test_oplguard_down(defer_ok: bool, expected: str) -> None:
    down = f"spamd_address = 127.0.0.1 {free_port()}"
    with running_exim(down, data_acl(defer_ok)) as exim:
        result = swaks(exim.port, message("listed-deep.eml"))
        exim.wait_for_log(
            r"spamd: failed to connect to|all spamd servers failed|spam acl condition"
        )
        if defer_ok:
            (delivered,) = exim.wait_for_messages(1)
            assert b"X-Spam-Score" not in delivered
    assert expected in result.stdout
