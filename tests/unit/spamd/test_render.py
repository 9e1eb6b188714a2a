"""Reply shapes per command and version (spamd-protocol.md §5-§7, checklist 3-16, 29, 31, 34)."""

from __future__ import annotations

import pytest

from oplguard.errors import Status
from oplguard.spamd.messages import (
    ProtocolFailure,
    Request,
    ScanResult,
    TellResult,
    Verb,
    tell_disabled,
)
from oplguard.spamd.render import render_error, render_response, render_timeout, spam_value

SPAM = ScanResult(
    10.0,
    5.0,
    ("RCVD_IN_OPL", "A_RULE"),
    "report line\n\n",
    b"X-Spam-Status: Yes\r\n\r\nhello\r\n",
)
HAM = ScanResult(0.0, 5.0, (), "clean report\n\n", b"X-Spam-Status: No\r\n\r\nhello\r\n")


def reply(verb: Verb, version: tuple[int, int], result: ScanResult) -> bytes:
    return render_response(Request(verb, version), result)


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (4.96, "False ; 4.9 / 5.0"),
        (5.0, "True ; 5.0 / 5.0"),
        (-1.3, "False ; -1.3 / 5.0"),
        (10.0, "True ; 10.0 / 5.0"),
        (4.94, "False ; 4.9 / 5.0"),
        (0.0, "False ; 0.0 / 5.0"),
    ],
)
def test_34_spam_value(score: float, expected: str) -> None:
    assert spam_value(ScanResult(score, 5.0)) == expected


def test_34_clamp_has_no_float_noise() -> None:
    assert spam_value(ScanResult(3.26, 3.3)) == "False ; 3.2 / 3.3"


def test_report_ifspam_uses_yes_no() -> None:
    assert spam_value(SPAM, yes_no=True) == "Yes ; 10.0 / 5.0"
    assert spam_value(HAM, yes_no=True) == "No ; 0.0 / 5.0"


@pytest.mark.parametrize("version", [(1, 0), (1, 2), (1, 5)])
def test_3_4_16_check_has_no_length_at_any_version(version: tuple[int, int]) -> None:
    assert (
        reply(Verb.CHECK, version, SPAM) == b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 10.0 / 5.0\r\n\r\n"
    )


def test_5_symbols_15_sorted_without_trailing_crlf() -> None:
    assert reply(Verb.SYMBOLS, (1, 5), SPAM) == (
        b"SPAMD/1.1 0 EX_OK\r\nContent-length: 18\r\nSpam: True ; 10.0 / 5.0\r\n\r\n"
        b"A_RULE,RCVD_IN_OPL"
    )


def test_6_symbols_none() -> None:
    assert reply(Verb.SYMBOLS, (1, 5), HAM) == (
        b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"
    )


def test_7_symbols_12_ends_in_crlf_without_length() -> None:
    assert reply(Verb.SYMBOLS, (1, 2), SPAM) == (
        b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 10.0 / 5.0\r\n\r\nA_RULE,RCVD_IN_OPL\r\n"
    )


def test_8_report_12_has_spam_right_after_the_status_line() -> None:
    assert reply(Verb.REPORT, (1, 2), SPAM) == (
        b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 10.0 / 5.0\r\n\r\nreport line\n\n"
    )


def test_9_report_15() -> None:
    assert reply(Verb.REPORT, (1, 5), SPAM) == (
        b"SPAMD/1.1 0 EX_OK\r\nContent-length: 13\r\nSpam: True ; 10.0 / 5.0\r\n\r\nreport line\n\n"
    )


def test_10_report_ifspam_ham_is_empty() -> None:
    assert reply(Verb.REPORT_IFSPAM, (1, 5), HAM) == (
        b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: No ; 0.0 / 5.0\r\n\r\n"
    )


def test_11_report_ifspam_spam() -> None:
    assert reply(Verb.REPORT_IFSPAM, (1, 5), SPAM).endswith(
        b"Content-length: 13\r\nSpam: Yes ; 10.0 / 5.0\r\n\r\nreport line\n\n"
    )


def test_12_process_15() -> None:
    assert reply(Verb.PROCESS, (1, 5), HAM) == (
        b"SPAMD/1.1 0 EX_OK\r\nContent-length: 28\r\nSpam: False ; 0.0 / 5.0\r\n\r\n" + HAM.message
    )


def test_13_process_12_has_no_spam_header() -> None:
    assert reply(Verb.PROCESS, (1, 2), HAM) == (
        b"SPAMD/1.1 0 EX_OK\r\nContent-length: 28\r\n\r\n" + HAM.message
    )


@pytest.mark.parametrize("version", [(1, 0), (1, 1)])
def test_14_process_10_and_11(version: tuple[int, int]) -> None:
    assert reply(Verb.PROCESS, version, HAM) == b"SPAMD/1.0 0 EX_OK\r\n" + HAM.message


def test_15_headers_cuts_after_the_first_empty_line() -> None:
    assert reply(Verb.HEADERS, (1, 5), HAM) == (
        b"SPAMD/1.1 0 EX_OK\r\nContent-length: 21\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"
        b"X-Spam-Status: No\r\n\r\n"
    )


def test_headers_with_lf_message() -> None:
    lf = ScanResult(0.0, 5.0, message=b"A: b\n\nbody\n")
    assert reply(Verb.HEADERS, (1, 5), lf).endswith(
        b"Content-length: 6\r\nSpam: False ; 0.0 / 5.0\r\n\r\nA: b\n\n"
    )


def test_1_2_ping_is_15_pong_whatever_the_version() -> None:
    assert render_response(Request(Verb.PING, (1, 2)), None) == b"SPAMD/1.5 0 PONG\r\n"


def test_31_skip_answers_nothing() -> None:
    assert render_response(Request(Verb.SKIP, (1, 5)), None) == b""


def test_tell_reply_has_spamds_extra_crlf() -> None:
    tell = Request(Verb.TELL, (1, 5))
    assert render_response(tell, TellResult(("local", "remote"), ())) == (
        b"SPAMD/1.1 0 EX_OK\r\nDidSet: local,remote\r\n\r\n\r\n"
    )
    assert render_response(tell, TellResult((), ("local",))) == (
        b"SPAMD/1.1 0 EX_OK\r\nDidRemove: local\r\n\r\n\r\n"
    )


def test_29_tell_disabled() -> None:
    assert render_error(tell_disabled()) == (
        b"SPAMD/1.0 69 Service Unavailable: TELL commands are not enabled, "
        b"set the --allow-tell switch.\r\n"
    )


def test_37_timeout_line() -> None:
    assert render_timeout(30) == (
        b"SPAMD/1.0 79 Timeout: (30 second socket timeout reading input from client)\r\n"
    )


def test_error_line_is_one_line_and_never_empty() -> None:
    assert render_error(ProtocolFailure(Status.EX_TEMPFAIL, "a\r\nb")) == b"SPAMD/1.0 75 a b\r\n"
    assert render_error(ProtocolFailure(Status.EX_SOFTWARE, "")) == b"SPAMD/1.0 70 EX_SOFTWARE\r\n"
