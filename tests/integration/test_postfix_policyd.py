"""``oplguard policyd``: the policy protocol over sockets, then a real Postfix and swaks.

Postfix sees a listed client on loopback through XCLIENT
(``smtpd_authorized_xclient_hosts``), a real Postfix feature.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest

from oplguard.config.model import Listener
from oplguard.policyd import server as server_mod
from tests.conftest import ConfigWriter
from tests.integration.harness import RunningServer, need
from tests.integration.mta.common import free_port, port_open, swaks, wait_until
from tests.integration.mta.policyd import RunningPolicyd, ask, policy_request, read_reply
from tests.integration.mta.postfix import Postfix, running_postfix

pytestmark = pytest.mark.integration

LOOKUP_URL = "https://lookup.example.net/ip/{ip}"
SCORING = f'lookup_url = "{LOOKUP_URL}"\n'
ALLOWED = '[[allowed_senders]]\nip = "192.0.2.99"\nscope = "connection"\ncomment = "partner"\n'
MESSAGE = b"From: sender@example.org\nTo: user@test.example\nSubject: hello\n\nhello\n"


def reject_config(write_config: ConfigWriter, extra: str = "") -> Path:
    """open_proxy_list rejects at connection time, with a lookup URL in the text."""
    path = write_config(action="reject", extra=extra)
    text = path.read_text().replace("[scoring]\n", f"[scoring]\n{SCORING}")
    path.write_text(text)
    return path


@pytest.fixture
def policyd(write_config: ConfigWriter) -> Iterator[RunningPolicyd]:
    with RunningPolicyd(reject_config(write_config)) as running:
        yield running


# region the protocol over a socket


def test_listed_client_is_rejected_with_reason_and_lookup_url(policyd: RunningPolicyd) -> None:
    (reply,) = ask(policyd.address(), policy_request("192.0.2.99"))
    assert reply.startswith(
        b"action=REJECT 5.7.1 Open Proxy sender violation: client 192.0.2.99 is listed on opl "
        b"(open-proxy): "
    )
    assert reply.endswith(b"; lookup and removal: https://lookup.example.net/ip/192.0.2.99\n\n")


def test_several_requests_share_one_connection(policyd: RunningPolicyd) -> None:
    replies = ask(
        policyd.address(),
        policy_request("198.51.100.7"),
        policy_request("192.0.2.99"),
        policy_request("127.0.0.1"),
        policy_request("2001:db8:bad::25"),
    )
    assert [r.split(b" ", 1)[0].strip() for r in replies] == [
        b"action=DUNNO",
        b"action=REJECT",
        b"action=DUNNO",
        b"action=REJECT",
    ]


def test_delete_group_does_not_reject_at_connection_time(write_config: ConfigWriter) -> None:
    with RunningPolicyd(write_config(action="delete")) as running:
        (reply,) = ask(running.address(), policy_request("192.0.2.99"))
    assert reply == b"action=DUNNO\n\n"


def test_allow_listed_client_is_let_in(write_config: ConfigWriter) -> None:
    with RunningPolicyd(reject_config(write_config, ALLOWED)) as running:
        (reply,) = ask(running.address(), policy_request("192.0.2.99"))
    assert reply == b"action=DUNNO\n\n"


def test_reload_applies_a_new_allow_entry(
    write_config: ConfigWriter, policyd: RunningPolicyd
) -> None:
    assert ask(policyd.address(), policy_request("192.0.2.99"))[0].startswith(b"action=REJECT")
    reject_config(write_config, ALLOWED)
    assert policyd.reload()
    assert ask(policyd.address(), policy_request("192.0.2.99")) == [b"action=DUNNO\n\n"]


def test_unix_socket_listener(write_config: ConfigWriter, tmp_path: Path) -> None:
    path = tmp_path / "policy.sock"
    listeners = (Listener("unix", path=str(path)),)
    with RunningPolicyd(reject_config(write_config), listeners):
        assert os.stat(path).st_mode & 0o777 == server_mod.UNIX_SOCKET_MODE
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(path))
            sock.sendall(policy_request("192.0.2.99"))
            assert read_reply(sock).startswith(b"action=REJECT 5.7.1")
    assert not path.exists()


def reply_or_reset(sock: socket.socket) -> bytes:
    """What the server sent before closing; b"" also when it reset the connection.

    A server that closes with our bytes still unread makes the kernel send
    RST instead of FIN: that is a close without a reply too.
    """
    try:
        return read_reply(sock)
    except ConnectionResetError:
        return b""


MANY_ATTRIBUTES = b"request=smtpd_access_policy\n" + b"x=1\n" * 300 + b"\n"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"request=smtpd_access_policy\nthis is not an attribute\n\n", "not a name=value line"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not a name=value line"),
        (b"request=junk\n\n", "unknown request type"),
        (b"\n", "empty request"),
        (b"\x00\xff\x16\x03\x01 binary\n\n", "not a name=value line"),
        (b"request=smtpd_access_policy\nsender=" + b"a" * 9000, "longer than 8192 bytes"),
        (MANY_ATTRIBUTES, "more than 256 attributes"),
        (b"request=smtpd_access_policy\nclient_address=192.0.2.99\n", "middle of a request"),
    ],
    ids=[
        "bad-line",
        "http",
        "bad-type",
        "blank",
        "binary",
        "overlong-line-unfinished",
        "too-many-attributes",
        "hang-up-mid-request",
    ],
)
def test_bad_input_closes_without_a_reply_and_logs_why(
    policyd: RunningPolicyd, caplog: pytest.LogCaptureFixture, data: bytes, why: str
) -> None:
    caplog.set_level(logging.WARNING, "oplguard.policyd")
    with socket.create_connection(policyd.address(), timeout=10) as sock:
        sock.sendall(data)
        if why == "middle of a request":
            sock.shutdown(socket.SHUT_WR)  # the hang-up; the others keep the line open
        assert reply_or_reset(sock) == b""
    wait_until(lambda: why in caplog.text, "policyd log line")
    assert "disconnecting without a reply" in caplog.text
    # The service is unharmed.
    assert ask(policyd.address(), policy_request("192.0.2.99"))[0].startswith(b"action=REJECT")


def test_a_stalled_request_is_dropped(
    write_config: ConfigWriter, caplog: pytest.LogCaptureFixture
) -> None:
    config = reject_config(write_config, "[policyd]\nrequest_timeout_s = 0.3\n")
    with (
        RunningPolicyd(config) as policyd,
        socket.create_connection(policyd.address(), timeout=10) as sock,
    ):
        sock.sendall(b"request=smtpd_access_policy\nclient_addr")
        assert read_reply(sock) == b""
        wait_until(lambda: "request not complete" in caplog.text, "policyd timeout log line")


def test_answers_after_previous_client_vanished(policyd: RunningPolicyd) -> None:
    with socket.create_connection(policyd.address(), timeout=10) as sock:
        sock.sendall(policy_request("192.0.2.99")[:20])
    assert ask(policyd.address(), policy_request("198.51.100.7")) == [b"action=DUNNO\n\n"]


@pytest.mark.parametrize(
    ("on_error", "expected"),
    [
        (
            "tempfail",
            b"action=DEFER_IF_PERMIT 4.7.1 Cannot check 198.51.100.7 against list opl-dns",
        ),
        ("ignore", b"action=DUNNO"),
    ],
)
def test_dns_list_error_defers_only_if_its_policy_says_tempfail(
    write_config: ConfigWriter, on_error: str, expected: bytes
) -> None:
    # A nameserver that never answers: every query times out.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        extra = (
            f'[[dnsbls]]\nname = "opl-dns"\nzone = "opl.test"\n'
            f'nameservers = ["127.0.0.1:{port}"]\ntimeout_s = 0.3\non_error = "{on_error}"\n'
            '[groups.dns_proxies]\nlists = ["opl-dns"]\naction = "reject"\nsymbol = "OPL_DNS"\n'
        )
        with RunningPolicyd(reject_config(write_config, extra)) as running:
            error, listed = ask(
                running.address(), policy_request("198.51.100.7"), policy_request("192.0.2.99")
            )
    assert error.startswith(expected)
    # A hit on another reject list still rejects.
    assert listed.startswith(b"action=REJECT 5.7.1 Open Proxy sender violation: client 192.0.2.99")


@contextmanager
def dns_list(listed: dict[str, str]) -> Iterator[int]:
    """A UDP DNS server answering A queries for ``{query name: code}``, else NXDOMAIN."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                data, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            name = query.question[0].name
            code = listed.get(name.to_text())
            if code is None:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            else:
                reply.answer.append(dns.rrset.from_text(name, 60, "IN", "A", code))
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stopping.set()
        thread.join(5)
        sock.close()


def test_client_listed_in_a_dns_list_is_rejected(write_config: ConfigWriter) -> None:
    with dns_list({"77.2.0.192.opl.test.": "127.0.0.2"}) as port:
        extra = (
            f'[[dnsbls]]\nname = "opl-dns"\nzone = "opl.test"\n'
            f'nameservers = ["127.0.0.1:{port}"]\ntimeout_s = 2.0\n'
            '[groups.dns_proxies]\nlists = ["opl-dns"]\naction = "reject"\nsymbol = "OPL_DNS"\n'
        )
        with RunningPolicyd(write_config(action="delete", extra=extra)) as running:
            listed, clean = ask(
                running.address(), policy_request("192.0.2.77"), policy_request("198.51.100.7")
            )
    assert listed.startswith(
        b"action=REJECT 5.7.1 Open Proxy sender violation: client 192.0.2.77 is listed on "
        b"opl-dns (open-proxy): listed in DNS zone opl.test (127.0.0.2)"
    )
    assert clean == b"action=DUNNO\n\n"


def test_peer_outside_allowed_ips_gets_no_answer(
    write_config: ConfigWriter, caplog: pytest.LogCaptureFixture
) -> None:
    path = reject_config(write_config, '[policyd]\nallowed_ips = ["192.0.2.0/24"]\n')
    with (
        RunningPolicyd(path) as running,
        socket.create_connection(running.address(), timeout=10) as sock,
    ):
        assert read_reply(sock) == b""  # closed before any request: no answer at all
    assert "not in [policyd] allowed_ips" in caplog.text


def test_bad_config_on_reload_keeps_the_running_one(
    write_config: ConfigWriter, policyd: RunningPolicyd, caplog: pytest.LogCaptureFixture
) -> None:
    policyd.config_path.write_text("[policyd]\nlisten = 1\n")
    assert not policyd.reload()
    assert "reload failed, keeping the running configuration" in caplog.text
    assert ask(policyd.address(), policy_request("192.0.2.99"))[0].startswith(b"action=REJECT")


def test_a_broken_list_file_is_recorded_and_the_last_good_version_kept(
    policyd: RunningPolicyd, tmp_path: Path
) -> None:
    # The list watcher is the service shell's (server/shell.py): policyd records a list's
    # reload error as serve does (before, it only logged it).
    opl = tmp_path / "lists" / "opl.txt"
    opl.write_text(opl.read_text() + "not-an-ip reason\n")
    wait_until(lambda: "opl" in policyd.server.list_errors, "the list error recorded")
    assert ask(policyd.address(), policy_request("192.0.2.99"))[0].startswith(b"action=REJECT")


def test_cli_serves_and_stops_on_term(write_config: ConfigWriter) -> None:
    port = free_port()
    command = [sys.executable, "-m", "oplguard", "policyd", "--config"]
    command += [str(reject_config(write_config)), "--listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_until(lambda: port_open(port), "oplguard policyd listening")
        (reply,) = ask(("127.0.0.1", port), policy_request("192.0.2.99"))
        assert reply.startswith(b"action=REJECT 5.7.1")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert b"policy service stopped" in err


def test_cli_refuses_a_tls_listener(write_config: ConfigWriter) -> None:
    command = [sys.executable, "-m", "oplguard", "policyd", "--config"]
    command += [str(write_config()), "--listen", "tls:127.0.0.1:10048"]
    result = subprocess.run(command, capture_output=True, timeout=30, check=False)
    assert result.returncode == 78
    assert b"policyd has no TLS listener" in result.stderr


# endregion
# region a real Postfix


def postfix_main(policy_port: int, default_action: str = "") -> str:
    """main.cf lines as docs/mta.md gives them (the policy service at RCPT)."""
    lines = [
        "smtpd_recipient_restrictions =",
        "    permit_mynetworks,",
        "    reject_unauth_destination,",
        f"    check_policy_service {{ inet:127.0.0.1:{policy_port}, timeout=10s }}",
    ]
    if default_action:
        lines.append(f"smtpd_policy_service_default_action = {default_action}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def postfix_with_policyd(policyd: RunningPolicyd) -> Iterator[Postfix]:
    with running_postfix(main=postfix_main(policyd.address()[1])) as postfix:
        yield postfix


def test_postfix_refuses_a_listed_client_at_rcpt(postfix_with_policyd: Postfix) -> None:
    result = swaks(postfix_with_policyd.port, MESSAGE, "--xclient", "ADDR=192.0.2.99")
    assert (
        "554 5.7.1 <user@test.example>: Recipient address rejected: Open Proxy sender "
        "violation: client 192.0.2.99 is listed on opl" in result.stdout
    )
    assert "https://lookup.example.net/ip/192.0.2.99" in result.stdout
    line = postfix_with_policyd.wait_for_log(r"NOQUEUE: reject: RCPT from \S+\[192\.0\.2\.99\]")
    assert "Open Proxy sender violation" in line


def test_postfix_accepts_an_unlisted_client(postfix_with_policyd: Postfix) -> None:
    result = swaks(postfix_with_policyd.port, MESSAGE, "--xclient", "ADDR=198.51.100.7")
    assert result.returncode == 0, result.stdout
    (delivered,) = postfix_with_policyd.wait_for_messages(1)
    assert b"[198.51.100.7]" in delivered


def test_postfix_accepts_an_allow_listed_client(write_config: ConfigWriter) -> None:
    with (
        RunningPolicyd(reject_config(write_config, ALLOWED)) as running,
        running_postfix(main=postfix_main(running.address()[1])) as postfix,
    ):
        result = swaks(postfix.port, MESSAGE, "--xclient", "ADDR=192.0.2.99")
        assert result.returncode == 0, result.stdout
        (delivered,) = postfix.wait_for_messages(1)
    assert b"[192.0.2.99]" in delivered


@pytest.mark.parametrize(
    ("default_action", "code"),
    [
        ("", "451 4.3.5 <user@test.example>: Recipient address rejected: Server configuration"),
        ("DUNNO", "250 2.1.5 Ok"),
    ],
    ids=["postfix-default-tempfails", "configured-fail-open"],
)
def test_postfix_when_policyd_is_down(default_action: str, code: str) -> None:
    main = postfix_main(free_port(), default_action)
    main += "smtpd_policy_service_try_limit = 1\n"
    with running_postfix(main=main) as postfix:
        result = swaks(
            postfix.port, MESSAGE, "--xclient", "ADDR=192.0.2.99", "--quit-after", "RCPT"
        )
        postfix.wait_for_log(r"warning: connect to 127\.0\.0\.1:\d+: Connection refused")
    assert code in result.stdout


def test_postfix_when_policyd_closes_without_a_reply(
    write_config: ConfigWriter, caplog: pytest.LogCaptureFixture
) -> None:
    # "In case of trouble the policy server must not send a reply": here
    # policyd refuses Postfix's address, as it does any peer it will not serve.
    path = reject_config(write_config, '[policyd]\nallowed_ips = ["192.0.2.0/24"]\n')
    with (
        RunningPolicyd(path) as running,
        running_postfix(main=postfix_main(running.address()[1])) as postfix,
    ):
        result = swaks(
            postfix.port, MESSAGE, "--xclient", "ADDR=198.51.100.7", "--quit-after", "RCPT"
        )
        postfix.wait_for_log(r"warning: problem talking to server 127\.0\.0\.1:\d+")
    assert "451 4.3.5 <user@test.example>: Recipient address rejected: Server configuration" in (
        result.stdout
    )
    assert "not in [policyd] allowed_ips" in caplog.text


# endregion


def message_from(ip: str) -> bytes:
    """A message as the MTA hands it to spamc: its own Received line names the client."""
    return (
        f"Received: from client.example.org (client.example.org [{ip}])\r\n"
        "\tby mx.example.net (Postfix) with ESMTP id 4XyZ1\r\n"
        "\tfor <user@example.net>; Tue,  1 Oct 2024 10:00:00 +0000 (UTC)\r\n"
        "From: alice@example.org\r\nTo: user@example.net\r\nSubject: t\r\n\r\nhello\r\n"
    ).encode()


def test_policyd_and_serve_share_one_trust_decision(write_config: ConfigWriter) -> None:
    # Issue 15: before, policyd rejected a client inside trusted_networks that
    # serve trusts and never checks.  Both listed; only 203.0.113.130 is untrusted.
    config = reject_config(write_config, '[trust]\ntrusted_networks = ["192.0.2.0/25"]\n')
    answers: dict[str, tuple[bytes, bytes]] = {}
    with RunningPolicyd(config) as policyd, RunningServer(config) as serve:
        for ip in ("192.0.2.99", "203.0.113.130"):
            policy = ask(policyd.address(), policy_request(ip))[0]
            done = subprocess.run(
                [need("spamc"), "-d", "127.0.0.1", "-p", str(serve.address()[1]), "-c"],
                input=message_from(ip),
                capture_output=True,
                timeout=60,
                check=False,
            )
            answers[ip] = (policy, done.stdout)
    assert answers["192.0.2.99"][0].startswith(b"action=DUNNO")
    assert answers["192.0.2.99"][1] == b"0.0/5.0\n"  # trusted: not checked
    assert answers["203.0.113.130"][0].startswith(b"action=REJECT")
    assert answers["203.0.113.130"][1] == b"10.0/5.0\n"
