"""Every MTA format of relay-chain.md §2, parsed as SpamAssassin 4.0 parses it.

The sample lines live in tests/data/received/ (file and line given per row); the
expected ip/rdns/helo/by/auth are SpamAssassin's (see expected.json).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tests.unit.mail.corpus import corpus_value

from oplguard.mail.received import Fetch, ParseResult, Relay, Skipped, parse_received

SKIPPED = "skipped"
FETCH = "fetch"


@dataclass(frozen=True)
class Sa:
    """What SA extracts from one field."""

    ip: str
    rdns: str
    helo: str
    by: str
    auth: str


@dataclass(frozen=True)
class Row:
    """One row of relay-chain.md §2: where the sample is and what SA gives for it."""

    name: str
    file: str
    line: int
    expected: Sa | str


ROWS = (
    Row(
        "postfix",
        "postfix.txt",
        2,
        Sa("192.0.2.25", "mta1.example.org", "mta1.example.org", "mx.example.net", ""),
    ),
    Row(
        "postfix-no-rdns",
        "postfix.txt",
        3,
        Sa("198.51.100.7", "", "EHLO-NAME", "mx.example.net", ""),
    ),
    Row(
        "postfix-ipv6",
        "postfix.txt",
        4,
        Sa("2001:db8:10::25", "mail.example.org", "mail.example.org", "mx.example.net", ""),
    ),
    Row(
        "postfix-sasl-auth",
        "postfix.txt",
        5,
        Sa("198.51.100.7", "", "!192.168.1.20!", "submit.example.net", "ESMTPSA"),
    ),
    Row("postfix-local-pickup", "postfix.txt", 6, SKIPPED),
    Row(
        "sendmail",
        "sendmail.txt",
        2,
        Sa("203.0.113.5", "relay.example.org", "relay.example.org", "mail.example.net", ""),
    ),
    Row(
        "sendmail-may-be-forged",
        "sendmail.txt",
        3,
        Sa("203.0.113.7", "host7.example.com", "friendly.example", "mail.example.net", ""),
    ),
    Row(
        "sendmail-no-ptr",
        "sendmail.txt",
        4,
        Sa("192.0.2.1", "", "!203.0.113.66!", "mail.example.net", ""),
    ),
    Row(
        "sendmail-auth",
        "sendmail.txt",
        5,
        Sa("198.51.100.7", "dsl-7.example.com", "laptop", "mail.example.net", "ESMTPSA"),
    ),
    Row("sendmail-local-submit", "sendmail.txt", 6, SKIPPED),
    Row(
        "exim-verified-ptr",
        "exim.txt",
        2,
        Sa("192.0.2.30", "out.example.org", "smtp.example.org", "mx.example.net", ""),
    ),
    Row(
        "exim-port-logging",
        "exim.txt",
        3,
        Sa("192.0.2.30", "out.example.org", "smtp.example.org", "mx.example.net", ""),
    ),
    Row(
        "exim-no-ptr",
        "exim.txt",
        4,
        Sa("198.51.100.7", "", "spammer.example", "mx.example.net", ""),
    ),
    Row(
        "exim-ipv6",
        "exim.txt",
        5,
        Sa("2001:db8:5::30", "out6.example.org", "out6.example.org", "mx.example.net", ""),
    ),
    Row("exim-local", "exim.txt", 6, SKIPPED),
    Row("qmail", "qmail.txt", 2, Sa("192.0.2.40", "", "mail.example.org", "mx.example.net", "")),
    Row(
        "qmail-ident",
        "qmail.txt",
        3,
        Sa("203.0.113.7", "host7.example.com", "fake.example", "mx.example.net", ""),
    ),
    Row("qmail-bookkeeping", "qmail.txt", 4, SKIPPED),
    Row(
        "o365-edge",
        "microsoft.txt",
        2,
        Sa(
            "192.0.2.50",
            "mail.example.org",
            "mail.example.org",
            "DM6PR01MB0001.namprd01.prod.outlook.com",
            "",
        ),
    ),
    Row(
        "o365-internal-hop",
        "microsoft.txt",
        3,
        Sa(
            "2603:10b6:5:100::11",
            "DM6PR01MB0002.namprd01.prod.outlook.com",
            "DM6PR01MB0002.namprd01.prod.outlook.com",
            "DM6PR01MB0003.namprd01.prod.outlook.com",
            "",
        ),
    ),
    Row(
        "exchange-mapi",
        "microsoft.txt",
        4,
        Sa(
            "fe80::1234:5678:9abc:def0",
            "",
            "DM6PR01MB0004.namprd01.prod.outlook.com",
            "DM6PR01MB0004.namprd01.prod.outlook.com",
            "",
        ),
    ),
    Row(
        "exchange-2003-smtpsvc",
        "microsoft.txt",
        5,
        Sa("192.0.2.60", "", "exch1.example.org", "exch2.example.org", ""),
    ),
    Row(
        "gmail-inbound",
        "gmail.txt",
        2,
        Sa(
            "198.51.100.41",
            "mail-sor-f41.example.com",
            "mail-sor-f41.example.com",
            "mx.google.com",
            "",
        ),
    ),
    Row(
        "gmail-submission",
        "gmail.txt",
        3,
        Sa("198.51.100.7", "", "!192.168.1.20!", "smtp.gmail.com", "ESMTPSA"),
    ),
    Row("gmail-internal", "gmail.txt", 4, SKIPPED),
    Row(
        "courier",
        "courier.txt",
        2,
        Sa("192.0.2.70", "mail.example.org", "mail.example.org", "mx.example.net", ""),
    ),
    Row(
        "courier-auth",
        "courier.txt",
        3,
        Sa("198.51.100.7", "dsl-7.example.com", "laptop", "mx.example.net", "ESMTPSA"),
    ),
    Row(
        "mdaemon",
        "mdaemon.txt",
        2,
        Sa("192.0.2.80", "relay.example.org", "relay.example.org", "mx.example.net", ""),
    ),
    Row(
        "mdaemon-older",
        "mdaemon.txt",
        3,
        Sa("192.0.2.80", "", "relay.example.org", "mx.example.net", ""),
    ),
    Row(
        "opensmtpd",
        "opensmtpd.txt",
        2,
        Sa("192.0.2.90", "mail.example.org", "mail.example.org", "mx.example.net", ""),
    ),
    Row(
        "webmail-squirrelmail",
        "webmail.txt",
        2,
        Sa("203.0.113.9", "", "", "webmail.example.net", "HTTP"),
    ),
    Row(
        "webmail-literal",
        "webmail.txt",
        3,
        Sa("203.0.113.9", "", "", "webmail.example.net", "HTTP"),
    ),
    Row("fetchmail", "fetchmail.txt", 2, FETCH),
    Row(
        "milter-synthetic",
        "",
        0,
        Sa("198.51.100.7", "dsl-7.example.com", "laptop", "mx.example.net", ""),
    ),
)
MILTER = (
    "from laptop (dsl-7.example.com [198.51.100.7]) by mx.example.net (milter-spamd) id 1A2B3C4D; "
    "Tue, 1 Oct 2024 10:00:00 +0000"
)
KINDS: dict[str, type[ParseResult]] = {SKIPPED: Skipped, FETCH: Fetch}


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_spec_format(row: Row) -> None:
    result = parse_received(corpus_value(row.file, row.line) if row.file else MILTER)
    if isinstance(row.expected, str):
        assert isinstance(result, KINDS[row.expected])
        return
    assert isinstance(result, Relay)
    got = Sa(result.ip, result.rdns, result.helo, result.by, result.auth)
    assert got == row.expected
