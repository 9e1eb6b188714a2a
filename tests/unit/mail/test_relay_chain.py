"""The relay chain of whole messages: relay-chain.md §9, cases 1-24."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from tests.unit.mail.messages import (
    DATE,
    FETCHMAIL,
    FOLDED,
    LOCAL,
    ORG,
    SPAM,
    marks,
    message,
    postfix,
    trust,
)

from oplguard.mail.relays import TrustSettings, build_chain


@dataclass(frozen=True)
class Case:
    """One spec case: T = trusted relays (ip/int|ext), U = untrusted, conn, lastext, check."""

    headers: tuple[str, ...]
    trusted: tuple[str, ...] = ()
    untrusted: tuple[str, ...] = ()
    conn: str | None = None
    lastext: str | None = None
    check: tuple[str, ...] = ()
    settings: TrustSettings = field(default_factory=TrustSettings)


PADDING = tuple(
    postfix(f"f{n}.example", f"f{n}.example", f"198.51.100.{n}", by=f"f{n - 1}.example")
    for n in range(101, 113)
)
HELO_TRAPS = (
    "Received: from [203.0.113.66] (unknown [192.0.2.1]) by mx.example.net (Postfix) with ESMTP",
    "Received: from [203.0.113.66] ([192.0.2.1]) by mail.example.net (8.17.1/8.17.1) with ESMTP",
    "Received: from [192.0.2.1] (helo=[203.0.113.66]) by mx.example.net with esmtp (Exim 4.97)",
    "Received: from unknown (HELO [203.0.113.66]) (192.0.2.1) by mx.example.net with SMTP; 1 Oct",
)
O365 = (
    (
        "Received: from mail.example.org (192.0.2.50) by DM6PR01MB0001.namprd01.prod.outlook.com "
        "(2603:10b6:5:100::10) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_"
        "WITH_AES_256_GCM_SHA384) id 15.20.7982.20 via Frontend Transport; Tue, 1 Oct 2024"
    ),
    (
        "Received: from DM6PR01MB0002.namprd01.prod.outlook.com (2603:10b6:5:100::11) by "
        "DM6PR01MB0003.namprd01.prod.outlook.com (2603:10b6:5:100::12) with Microsoft SMTP Server "
        "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7982.20; Tue, 1"
    ),
    (
        "Received: from DM6PR01MB0004.namprd01.prod.outlook.com ([fe80::1234:5678:9abc:def0]) by "
        "DM6PR01MB0004.namprd01.prod.outlook.com ([fe80::1234:5678:9abc:def0%5]) with mapi id "
        "15.20.7982.20; Tue, 1 Oct 2024 10:00:00 +0000"
    ),
)

CASES: dict[str, Case] = {
    "01-single-postfix": Case(
        (ORG,),
        untrusted=("192.0.2.10/ext",),
        conn="192.0.2.10",
        lastext="192.0.2.10",
        check=("192.0.2.10",),
    ),
    "02-filter-loop-and-private-tail": Case(
        (LOCAL, ORG, postfix("[10.0.0.5]", "unknown", "10.0.0.5", by="mail.example.org", qid="0")),
        trusted=("127.0.0.1/int",),
        untrusted=("192.0.2.10/ext", "10.0.0.5/ext"),
        conn="192.0.2.10",
        lastext="192.0.2.10",
        check=("192.0.2.10",),
    ),
    "03-internal-hop-border-forged-history": Case(
        (
            postfix(
                "mx.example.net", "mx.example.net", "10.1.1.2", by="store.example.net", qid="3"
            ),
            SPAM,
            postfix("forged.example", "forged.example", "203.0.113.99", by="relay.example.org"),
        ),
        trusted=("10.1.1.2/int",),
        untrusted=("198.51.100.66/ext", "203.0.113.99/ext"),
        conn="198.51.100.66",
        lastext="198.51.100.66",
        check=("198.51.100.66", "203.0.113.99"),
    ),
    "04-trusted-relay": Case(
        (postfix("relay.example.net", "relay.example.net", "192.0.2.20", qid="3"), SPAM),
        trusted=("192.0.2.20/int",),
        untrusted=("198.51.100.66/ext",),
        conn="198.51.100.66",
        lastext="198.51.100.66",
        check=("198.51.100.66",),
        settings=trust(("192.0.2.0/24",)),
    ),
    "05-trusted-external-forwarder": Case(
        (
            postfix("relay.example.net", "relay.example.net", "192.0.2.20", qid="3"),
            postfix("fwd.example.com", "fwd.example.com", "203.0.113.50", by="relay.example.net"),
            postfix("spam.example", "unknown", "198.51.100.66", by="fwd.example.com"),
        ),
        trusted=("192.0.2.20/int", "203.0.113.50/ext"),
        untrusted=("198.51.100.66/ext",),
        conn="198.51.100.66",
        lastext="203.0.113.50",
        check=("198.51.100.66",),
        settings=trust(("192.0.2.0/24 203.0.113.0/24",), ("192.0.2.0/24",)),
    ),
    "06-authenticated-submission": Case(
        (
            "Received: from laptop (dsl-7.example.com [198.51.100.7]) (Authenticated sender: bob) "
            f"by submit.example.net (Postfix) with ESMTPSA id 5; {DATE}",
        ),
        trusted=("198.51.100.7/int",),
    ),
    "07-msa-inherits-trust": Case(
        (
            postfix("submit.example.net", "submit.example.net", "192.0.2.30", qid="6"),
            postfix("laptop", "dsl-7.example.com", "198.51.100.7", by="submit.example.net"),
        ),
        trusted=("192.0.2.30/int", "198.51.100.7/int"),
        settings=trust(("192.0.2.0/24",), msa=("192.0.2.30",)),
    ),
    "08-x-originating-ip": Case(
        (ORG, "X-Originating-IP: [198.51.100.33]"),
        trusted=("192.0.2.10/int",),
        untrusted=("198.51.100.33/ext",),
        conn="198.51.100.33",
        lastext="198.51.100.33",
        check=("198.51.100.33",),
        settings=trust(("192.0.2.0/24",)),
    ),
    "09-ipv6-postfix": Case(
        (postfix("mail.example.org", "mail.example.org", "IPv6:2001:db8:10::25"),),
        untrusted=("2001:db8:10::25/ext",),
        conn="2001:db8:10::25",
        lastext="2001:db8:10::25",
        check=("2001:db8:10::25",),
    ),
    "10-fetchmail-on-top": Case(
        (FETCHMAIL, ORG),
        untrusted=("192.0.2.10/ext",),
        conn="192.0.2.10",
        lastext="192.0.2.10",
        check=("192.0.2.10",),
    ),
    "11-courier-mapped-under-lmtp": Case(
        (
            "Received: from mx.example.net (mx.example.net [192.168.5.5]) by store.example.net "
            "with LMTP; Tue,  1 Oct 2024 10:00:06 +0000",
            "Received: from mail.example.org (mail.example.org [::ffff:203.0.113.12]) by "
            "mx.example.net with ESMTPS; Tue, 01 Oct 2024 10:00:00 +0000",
        ),
        trusted=("192.168.5.5/int",),
        untrusted=("203.0.113.12/ext",),
        conn="203.0.113.12",
        lastext="203.0.113.12",
        check=("203.0.113.12",),
    ),
    "12-duplicate-ips": Case(
        (
            postfix("a.example", "a.example", "192.0.2.1"),
            postfix("b.example", "b.example", "192.0.2.1", by="a.example"),
            postfix("c.example", "c.example", "10.9.9.9", by="b.example"),
        ),
        untrusted=("192.0.2.1/ext", "192.0.2.1/ext", "10.9.9.9/ext"),
        conn="192.0.2.1",
        lastext="192.0.2.1",
        check=("192.0.2.1",),
    ),
    **{
        f"13-helo-literal-trap-{n}": Case(
            (line,),
            untrusted=("192.0.2.1/ext",),
            conn="192.0.2.1",
            lastext="192.0.2.1",
            check=("192.0.2.1",),
        )
        for n, line in enumerate(HELO_TRAPS, start=1)
    },
    "14-o365-edge": Case(
        (O365[0],),
        untrusted=("192.0.2.50/ext",),
        conn="192.0.2.50",
        lastext="192.0.2.50",
        check=("192.0.2.50",),
    ),
    "14-o365-internal-hop": Case(
        (O365[1],),
        untrusted=("2603:10b6:5:100::11/ext",),
        conn="2603:10b6:5:100::11",
        lastext="2603:10b6:5:100::11",
        check=("2603:10b6:5:100::11",),
    ),
    "14-exchange-mapi-link-local": Case((O365[2],), trusted=("fe80::1234:5678:9abc:def0/int",)),
    "15-gmail-inbound": Case(
        (
            "Received: from mail-sor-f41.example.com (mail-sor-f41.example.com. [198.51.100.41]) "
            "by mx.google.com with SMTPS id a1sor1234567qkb.12.2024.10.01.03.00.00 for "
            "<frank@example.net> (Google Transport Security); Tue, 01 Oct 2024 03:00:00 -0700",
            "Received: by 2002:a05:6a10:1234:b0:5aa:1234:5678 with SMTP id abc123csp123456pxb; "
            "Tue, 1 Oct 2024 03:00:00 -0700 (PDT)",
        ),
        untrusted=("198.51.100.41/ext",),
        conn="198.51.100.41",
        lastext="198.51.100.41",
        check=("198.51.100.41",),
    ),
    "16-ipv6-upper-case-canonical": Case(
        (postfix("m.example", "m.example", "IPv6:2001:DB8:10:0:0:0:0:25"),),
        untrusted=("2001:db8:10::25/ext",),
        conn="2001:db8:10::25",
        lastext="2001:db8:10::25",
        check=("2001:db8:10::25",),
    ),
    "16-ipv6-mapped": Case(
        (postfix("m.example", "m.example", "IPv6:::ffff:198.51.100.9"),),
        untrusted=("198.51.100.9/ext",),
        conn="198.51.100.9",
        lastext="198.51.100.9",
        check=("198.51.100.9",),
    ),
    "16-ipv6-loopback": Case(
        (postfix("localhost", "localhost", "IPv6:::1"),), trusted=("::1/int",)
    ),
    "16-exim-port-suffix": Case(
        (
            "Received: from out6.example.org ([2001:db8:5::30]:40122) by mx.example.net with "
            "esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.97) id 1rA2bC-000XyZ-5f; x",
        ),
        untrusted=("2001:db8:5::30/ext",),
        conn="2001:db8:5::30",
        lastext="2001:db8:5::30",
        check=("2001:db8:5::30",),
    ),
    "17-skip-list": Case(
        tuple(
            postfix("s.example", "unknown", ip)
            for ip in ("IPv6:fd00::25", "0.0.0.0", "100.64.3.4", "169.254.1.1")
        ),
        untrusted=("fd00::25/ext", "0.0.0.0/ext", "100.64.3.4/ext", "169.254.1.1/ext"),
    ),
    "18-leading-zeros-unparseable": Case((postfix("x", "x", "192.000.002.010"),)),
    "19-ip-less-and-unparseable": Case(
        (
            "Received: from mail.example.org by mx.example.net with ESMTP id X1; Tue, 1 Oct 2024",
            "Received: from mx.example.net",
            ORG,
        ),
        untrusted=("192.0.2.10/ext",),
        conn="192.0.2.10",
        lastext="192.0.2.10",
        check=("192.0.2.10",),
    ),
    "20-trailing-bait": Case(
        (
            "Received: from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.net "
            f"(Postfix) with ESMTP id 4; {DATE} (comment with [198.51.100.66])",
        ),
        untrusted=("192.0.2.10/ext",),
        conn="192.0.2.10",
        lastext="192.0.2.10",
        check=("192.0.2.10",),
    ),
    "21-padding-attack": Case(
        (postfix("spam.example", "unknown", "198.51.100.66", qid="9"), *PADDING),
        untrusted=tuple(f"198.51.100.{n}/ext" for n in (66, *range(101, 113))),
        conn="198.51.100.66",
        lastext="198.51.100.66",
        check=tuple(f"198.51.100.{n}" for n in (66, *range(101, 113))),
    ),
    "22-incoming-x-spam-relays-ignored": Case(
        ("X-Spam-Relays-Untrusted: [ ip=198.51.100.200 rdns= helo= by=x ident= envfrom= ]", ORG),
        untrusted=("192.0.2.10/ext",),
        conn="192.0.2.10",
        lastext="192.0.2.10",
        check=("192.0.2.10",),
    ),
    "23-no-received": Case(("From: a@example.org",)),
    "24-folded": Case(
        (FOLDED,),
        untrusted=("192.0.2.10/ext",),
        conn="192.0.2.10",
        lastext="192.0.2.10",
        check=("192.0.2.10",),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_spec_case(case: Case) -> None:
    chain = build_chain(message(*case.headers), case.settings)
    assert marks(chain, True) == case.trusted
    assert marks(chain, False) == case.untrusted
    assert chain.connecting_ip == case.conn
    assert chain.last_external == case.lastext
    assert tuple(relay.ip for relay in chain.checked) == case.check
