"""The MTA ``Received`` formats, one row per SpamAssassin pattern, in SA's order.

Pure: no I/O.  Source: SA 4.0 Received.pm ``parse_received_line``; each row keeps
SA's name for the shape and SA's sample in a comment.  Order matters: first match wins.
"""

from __future__ import annotations

from oplguard.mail.addresses import IP_ADDRESS as IP
from oplguard.mail.formats import (
    LOCALHOST as LH,
)
from oplguard.mail.formats import (
    Custom,
    Outcome,
    Pattern,
    Row,
    exim_bits,
    fixup_courier_rdns,
    fixup_hotmail,
    fixup_no_by,
    fixup_no_id,
    fixup_obtuse,
    fixup_sendmail_ident,
    fixup_strip_at,
    fixup_sub_clause,
    fixup_unverified_rdns,
    fixup_xmail,
    guess_helo,
    qmail,
    row,
    rx,
)

SKIP = Outcome.SKIP
FETCH = Outcome.FETCH

# fmt: off
# Elsif-chained blocks of SA: only the first family whose guard matches is tried.
FAMILY_GUARDS: tuple[tuple[str, Pattern], ...] = (
    ("smtpsvc", rx(r" SMTPSVC")),
    ("ms-smtp", rx(r" with (?:Microsoft SMTP Server|mapi id) (?:\([^\)]+\) )?"
                   r"\d+\.\d+\.\d+\.\d+(?:$| )")),
    ("xmail", rx(r"\[XMail ")),
    ("ecelerity", rx(r"\(ecelerity\b")),
    ("exim", rx(r"Exim")),
    ("postfix", rx(r" \(Postfix\) with")),
    ("scalix", rx(r"\(Scalix SMTP Relay")),
    ("domino", rx(r" \(Lotus Domino ")),
)

FROM_ROWS: tuple[Row, ...] = (
    # from 142.169.110.122 (SquirrelMail authenticated user synapse) by mail.nomis80.org with HTTP
    row("squirrelmail", rf"({IP})\b(?![.-]).{{10,80}}by (\S+) with HTTP", "ip", "by",
        guards=(r" \((?:SquirrelMail|NaSMail) authenticated user ",)),
    # from 82.135.198.129 by FWM-M18.sysops.aol.com (64.12.168.82) with HTTP (WebMailUI)
    row("aol-webmail", rf"({IP}) by (\S+) \({IP}\) with HTTP \(WebMailUI\)", "ip", "by",
        guards=(r"aol\.com", r"with HTTP \(WebMailUI\)")),
    # from inet-vrs-05.redmond.corp.microsoft.com ([157.54.6.157]) by x with Microsoft SMTPSVC(5.0)
    row("ms-smtpsvc", rf"^(\S*) \(\[({IP})\][^\)]{{0,40}}\) by (\S+) with Microsoft SMTPSVC",
        "helo", "ip", "by", family="smtpsvc"),
    row("ms-pickup", r"^mail pickup service by (\S+) with Microsoft SMTPSVC$",
        outcome=SKIP, family="smtpsvc"),
    # from EXC-DAG-02.global.net (10.45.252.152) by y (10.45.252.152) with Microsoft SMTP Server
    row("ms-smtp-server", rf"^(\S+) \(\[?({IP})(?:%[A-Z0-9._~-]*)?\]?\) by (\S+) ",
        "helo", "ip", "by", family="ms-smtp", fixup=fixup_no_id),
    # from list.brainbuzz.com (63.146.189.86:23198) by x with [XMail 1.20 ESMTP Server] id <S72E>
    row("xmail", rf"^(\S+) \((\[?{IP}\]?)(?::\d+)\) by (\S+)(?: \(\S+\))? with \[XMail",
        "helo", "ip", "by", family="xmail", fixup=fixup_xmail),
    # from ([192.168.1.151:49601] helo=dev1.example.org) by m12.x.com (ecelerity 2.1.1.3 r(11743))
    row("ecelerity-helo", rf"^\(\[({IP}):\d+\] helo=(\S+)\) by (\S+) ", "ip", "helo", "by",
        family="ecelerity"),
    row("ecelerity", rf"^\S+ \(\[({IP}):\d+\]\) by (\S+) ", "ip", "by", family="ecelerity"),
    # from andrew by trinity.supernews.net with local (Exim 4.12) id 18xeL6-000Dn1-00
    row("exim-local", r"\bwith local(?:-\S+)? ", outcome=SKIP, family="exim"),
    # from [61.174.163.26] (helo=host) by sc8-sf-list1.sourceforge.net with smtp (Exim 3.31-VA-mm2)
    row("exim-literal", rf"^\[({IP})\] \((.*?)\) by (\S+) ", "ip", "sub", "by",
        family="exim", fixup=fixup_sub_clause),
    # from out.example.org ([192.0.2.30]:51234 helo=smtp.example.org) by mx with esmtps (Exim 4.97)
    row("exim", rf"^(\S+) \(\[({IP})\](.*?)\) by (\S+) ", "rdns+helo", "ip", "sub", "by",
        family="exim", fixup=fixup_sub_clause),
    # from boggle.ihug.co.nz [203.109.252.209] by grunt6.ihug.co.nz with esmtp (Exim 3.35 #1)
    row("exim-old", rf"^(\S+) \[({IP})\](:\d+)? by (\S+) ", "rdns+helo", "ip", "", "by",
        family="exim"),
    Custom("exim-bits", exim_bits, family="exim"),
    # from localhost (unknown [127.0.0.1]) by cabbage.jmason.org (Postfix) with ESMTP id A96E18BD97
    row("postfix", rf"^(\S+) \((\S+) \[({IP})\]\) by (\S+) ", "helo", "rdns", "ip", "by",
        family="postfix"),
    row("postfix-pobox", rf"^(\S+) \((\S+)\[({IP})\]\) by (\S+) ", "helo", "rdns", "ip", "by",
        family="postfix"),
    # from DPLAPTOP ( 72.242.176.162) by mail.puryear-it.com (Scalix SMTP Relay 10.0.1.3)
    row("scalix", rf"^(\S+) \( ?({IP})\) by (\S+)", "helo", "ip", "by", family="scalix"),
    row("domino", rf"^(\S+) \(\[({IP})\]\) by (\S+) \(Lotus", "helo", "ip", "by",
        family="domino"),
    # from 217.137.58.28 ([217.137.58.28]) by webmail.ukonline.net (IMP) with HTTP
    row("webmail-numeric", rf"^({IP}) \(\[{IP}\]\) by (\S+)", "ip", "by",
        guards=(r"\bwith HTTP\b",)),
    # from relay.example.org (relay.example.org [203.0.113.5]) by mail.example.net (8.17.1/8.17.1)
    row("sendmail", rf"^(\S+) \((\S+) \[({IP})\].*\) by (\S+) \(", "helo", "rdns", "ip", "by",
        unless=r" by \S+ \(qmail-\S+\) with ", fixup=fixup_sendmail_ident),
    # from ns.elcanto.co.kr (66.161.246.58 [66.161.246.58]) by x with SMTP (Microsoft Exchange
    row("exchange-ims", rf"^(\S+) \((\S+) \[({IP})\]\) by (\S+) with \S+ \(",
        "helo", "rdns", "ip", "by"),
    row("helo-after-ip", rf"^(\S+) \(\[({IP})\] helo=(\S+)\) by (\S+) with ",
        "rdns", "ip", "helo", "by"),
    row("attbi-unknown", rf"^(\S+) \(<unknown\S*>\[({IP})\]\) by (\S+) ", "helo", "ip", "by"),
    row("attbi", rf"^(\S+) \((\S+\.\S+)\[({IP})\]\) by (\S+) ", "helo", "rdns", "ip", "by"),
    # from 4wtgRl (kgbxn@[211.244.147.115]) by dogma.slashnull.org (8.11.6/8.11.6) with SMTP
    row("sendmail-ident", rf"^(\S+) \((\S*)\@\[({IP})\].*\) by (\S+) \(",
        "helo", "ident", "ip", "by"),
    # from 213.123.174.21 by lw11fd.law11.hotmail.msn.com with HTTP
    row("hotmail", r"by (\S+\.hotmail\.msn\.com) ", "by", fixup=fixup_hotmail),
    # from x.webspeed.dk (HELO niels) (69.96.3.15) by la.mx.develooper.com (qpsmtpd/0.27-dev)
    row("qpsmtpd", rf"^(\S+) \((?:HELO|EHLO) (\S*)\) \(({IP})\) by (\S+) \(qpsmtpd/\S+\)"
        r" with (?:ESMTP|SMTP)", "rdns", "helo", "ip", "by"),
    row("lmtp-lhlo", rf"^(\S+) \(LHLO (\S*)\) \(({IP})\) by (\S+) with LMTP",
        "rdns", "helo", "ip", "by"),
    # from dslb-082-083-045-064.pools.arcor-ip.net (EHLO homepc) [82.83.45.64] by mail.gmx.net
    row("gmx", rf"^(\S+) \((?:HELO|EHLO) (\S*)\) \[({IP})\] by (\S+) \([^\)]+\)"
        r" with (?:ESMTP|SMTP)", "rdns", "helo", "ip", "by"),
    row("raptor-smtpd", rf"^(\S+) \(\[({IP})\]\) by (\S+) via smtpd \(for \S+\) with SMTP\(",
        "helo", "ip", "by"),
    Custom("qmail", qmail),
    # from [193.220.176.134] by web40310.mail.yahoo.com via HTTP
    row("yahoo-http", rf"^\[({IP})\] by (\S+) via HTTP$", "ip", "by", guards=(r" via HTTP$",)),
    row("as-user", rf"^(\S+) \( \[({IP})\]\).*? by (\S+) ", "", "ip", "by"),
    row("paren-rdns-ip", rf"^\((\S+) \[({IP})\]\) by (\S+) ", "helo", "ip", "by"),
    # from [65.167.180.251] by relent.cedata.com (MessageWall 1.1.0) with SMTP
    row("bracket-ip", rf"^\[({IP})\] by (\S+) ", "ip", "by"),
    row("paren-ip", rf"^\(\[?({IP})\]?\) by (\S+) ", "ip", "by"),
    # from acecomms [202.83.84.95] by mailscan.acenet.net.au [202.83.84.27] with SMTP (MDaemon)
    row("mdaemon", rf"^(\S+) \[({IP})\] by (\S+) \[{IP}\] with ", "helo", "ip", "by"),
    row("mdaemon-19", rf"^(\S+) \[\(({IP})\)\] by (\S+) \({IP}\) ", "helo", "ip", "by"),
    # from mail.sxptt.zj.cn ([218.0.185.24]) by dogma.slashnull.org (8.11.6/8.11.6) with ESMTP
    row("sendmail-no-rdns", rf"^(\S+) \(\[({IP})\]\) by (\S+) \(", "helo", "ip", "by"),
    # from Agni (localhost [::ffff:127.0.0.1]) (TLS: TLSv1/SSLv3, 168bits,DES-CBC3-SHA) by x
    row("courier", rf"^(\S+) \((\S+) \[({IP})\]\).*? by (\S+)\b", "helo", "", "ip", "by",
        fixup=fixup_courier_rdns),
    row("ip-port", rf"^(\S+) \(\[({IP})(?:[.:]\d+)?\]\).*? by (\S+) ", "helo", "ip", "by"),
    row("sendmail-auth", rf"^(\S+) \((\S+) \[({IP})\]\)(?: \(authenticated bits=\d+\))?"
        r" by (\S+) \(", "helo", "rdns", "ip", "by"),
    # from cabbage.jmason.org [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0)
    row("fetch", r"with (?:POP3|IMAP)", outcome=FETCH),
    # from unknown (HELO feux01a-isp) (213.199.4.210) by totor.bouissou.net with SMTP
    row("qmailish-helo", rf"^(\S+) \((?:HELO|EHLO) ([^\)]*)\) \((\S*@)?\[?({IP})\]?\).* by (\S+) ",
        "rdns", "helo", "ident", "ip", "by", fixup=fixup_strip_at),
    row("qmailish", rf"^(\S+) \((\S*@)?\[?({IP})\]?\).* by (\S+) ", "rdns+helo", "ident", "ip",
        "by", fixup=fixup_strip_at),
    row("outblaze", rf"^\[({IP})\] by (\S+) with http for ", "ip", "by",
        guards=(r" with http for ",)),
    row("smap", rf"^(\S+)\(({IP})\) by (\S+) via smap ", "rdns", "ip", "by",
        guards=(r" via smap ",)),
    row("smap-helo", rf"^(\S+)\(({IP}), (?:HELO|EHLO) (\S*)\) by (\S+) via smap ",
        "rdns", "ip", "helo", "by"),
    row("post-office", rf"^\[({IP})\] by (\S+) \(Post", "ip", "by", guards=(r" \(Post",)),
    row("argosoft", rf"^\[({IP})\] by (\S+) \(ArGoSoft", "ip", "by", guards=(r" \(ArGoSoft",)),
    row("interscan", rf"^({IP}) by (\S+) \((?:SMTPL|InterScan)\b", "ip", "by"),
    row("bsmtp", r"^\S+ by \S+ with BSMTP", outcome=SKIP, guards=(r" with BSMTP",)),
    # from spike (spike.ig.co.uk [193.32.60.32]) by mail.ig.co.uk with SMTP id h27CrCD03362
    row("helo-rdns-ip", rf"^(\S+) \((\S+) \[({IP})\]\) by (\S+) with ", "helo", "rdns", "ip",
        "by"),
    row("yahoo-plain", rf"^(\S+) \((?:HELO|EHLO) (\S*)\) \((?:(\S+)\@)?({IP}).*?\) by (\S+) with ",
        "rdns", "helo", "ident", "ip", "by"),
    # from [192.168.1.104] (account nazgul HELO [192.168.1.104]) by x (CommuniGate Pro SMTP 3.5.7)
    row("communigate", rf"^\[({IP})\] \((?:account \S+ )?(?:HELO|EHLO) (\S*)\) by (\S+) \(",
        "ip", "helo", "by"),
    row("communigate-verified", rf"^(\S+) \(\[({IP})\] verified\) by (\S+) \(", "rdns+helo",
        "ip", "by", guards=(r" \(CommuniGate Pro",)),
    row("ciphertrust", rf"^\(\[({IP})\]\) by (\S+) with ", "ip", "by"),
    # from ironport.com (10.1.1.5) by a50.ironport.com with ESMTP
    row("ironport", rf"^([^\d]\S+) \(({IP})\) by (\S+) ", "helo", "ip", "by"),
    row("content-technologies", r"^\S+ \(\S+\) by \S+ \(Content Technologies ", outcome=SKIP),
    row("two-brackets", rf"^(\S+) \(\[({IP})\] \[(\S+)\]\) by (\S+) with ", "helo", "ip", "",
        "by"),
    row("tumbleweed", rf"^({IP}) by (\S+) with ", "ip", "by"),
    row("attbi-2", rf"^(\S+) \((\S+)\[({IP})\]\) by (\S+) ", "helo", "rdns", "ip", "by"),
    row("f-secure", rf"^\[({IP})\]\S+ \((?:HELO|EHLO) (\S*)\) by (\S+) ", "ip", "helo", "by"),
    row("altavista", rf"^({IP}) \((?:HELO|EHLO) (\S*)\) by (\S+) ", "ip", "helo", "by"),
    # from oemcomputer [63.232.189.195] by highstream.net (SMTPD32-7.07) id A4CE7F2A0028
    row("helo-bracket-ip", rf"^(\S+) \[({IP})\] by (\S+) ", "helo", "ip", "by"),
    row("csmap", rf"^(\S+)\(({IP})\) by (\S+) ", "rdns", "ip", "by"),
    row("mailgate", rf"^\[({IP})\] by (\S+) \(MailGate ", "ip", "by"),
    row("unverified", rf"^(\S+) \(unverified \[({IP})\]\) by (\S+) ", "helo", "ip", "by"),
    row("ip-comment", rf"^({IP}) \([A-Za-z][^\)]+\) by (\S+) with ", "ip", "by"),
    # from [206.51.230.145] (helo=t-online.de) by mxeu2.kundenserver.de with ESMTP (Nemesis)
    row("literal-sub", rf"^\[({IP})\] \(([^\)]+)\) by (\S+) ", "ip", "sub", "by",
        fixup=fixup_sub_clause),
    row("ident-ip", rf"^(\S+) \((?:\S+\@)?({IP})\) by (\S+) with ", "rdns", "ip", "by"),
    # from TCE-E-7-182-54.bta.net.cn(202.106.182.54) via SMTP by st.tahina.priv.at, id smtpdEDUB8h
    row("obtuse", rf'^(\S+)\(({IP})\)(?:, claiming to be "(\S+)")? via \S+ by (\S+),',
        "rdns", "ip", "", "by", fixup=fixup_obtuse),
    row("yahoo-login", rf"^(\S+) \((\S+)@({IP}) with login\) by (\S+\.yahoo\.com) with SMTP",
        "helo", "", "ip", "by"),
    # synthetic "from X-Originating-IP: 1.2.3.4" (SA builds these from originating headers)
    row("originating", rf"^X-Originating-IP: ({IP})$", "ip", fixup=fixup_no_by),
    # STUFF TO IGNORE: local hand-overs and MTAs that record no client IP
    row("localhost-ident", rf"^\S+ \([^\s\@]+\@{LH}\) by \S+ \(", outcome=SKIP),
    row("exim-local-smtp", r"^\S+ \S+ by \S+ with local-e?smtp ", outcome=SKIP),
    row("avg", r"^127\.0\.0\.1 \(AVG SMTP \S+ \[\S+\]\)", outcome=SKIP),
    row("qmail-scanner-uid", r"^\S+\@\S+ by \S+ by uid \S+ ", outcome=SKIP),
    row("address-by", r"^\S+\@\S+ by \S+ ", outcome=SKIP),
    row("unknown-local", r"^Unknown/Local \(", outcome=SKIP),
    row("localhost-pair", rf"^{LH} \((?:\S+\@)?{LH}[\)\[]", outcome=SKIP),
    row("localhost-paren", rf"^\S+ \((?:\S+\@)?{LH}\) ", outcome=SKIP),
    row("localhost-ident-ip", rf"^\S+ \(\S+\@\S+ \[{LH}\]\) ", outcome=SKIP),
    row("courier-auth-only", r"^\(AUTH: \S+\) by \S+ with ", outcome=SKIP),
    row("unix-socket", r"^localhost \(localhost \[\[UNIX: localhost\]\]\) by ", outcome=SKIP),
    row("amazon", r"^\S+\.amazon\.com by \S+\.amazon\.com with ESMTP \(peer crosscheck: ",
        outcome=SKIP),
    row("groupwise", r"^[^\.]+ by \S+ with Novell_GroupWise", outcome=SKIP),
    row("raptor", r"^no\.name\.available by \S+ via smtpd \(for ", outcome=SKIP),
    row("qmail-scanner", r"^\S+ by \S+ \(.{0,100}\) with qmail-scanner", outcome=SKIP),
    row("by-with-local", r"^\S+ by \S+ with local", outcome=SKIP),
    row("cyrus-socket", r"^\S+ \(\[unix socket\]\) by \S+ \(Cyrus v[0-9]*?\.[0-9]*?\.[0-9]*?\)"
        r" with LMTPA", outcome=SKIP),
    row("no-ip", r"^\S+ by \S+ (?:with|via|for|\()", outcome=SKIP),
    row("no-ip-2", r"^\S+ (?:(?:with|via|for) \S+|\(unverified\)) by\b", outcome=SKIP),
    row("sendgrid", r"^\S+ \(unknown\) by \S+ \(SG\) with \b", outcome=SKIP),
    row("opensmtpd-local", r"^\S+ \(\S+ \[local\]\) by \S+ \(OpenSMTPD\) with \b", outcome=SKIP),
    row("lsmtp", r"\(LSMTP for", outcome=SKIP),
    row("mailenable-local", rf"^\(\[{LH}\]\) with MailEnable ", outcome=SKIP),
    row("facebook", r"^facebook\.com \([^\)]+\) by facebook\.com with Thrift id \S+$",
        outcome=SKIP),
    row("gmail-api", r"^\S+ named \S+ by gmailapi\.google\.com with HTTPREST$", outcome=SKIP),
    row("id-only", r"^\S+ id \S+$", outcome=SKIP),
    row("jetsend", r"^\[<.*? \(Jetsend", outcome=SKIP),
    Custom("guess-helo", guess_helo),
)

# Fields starting "FROM " (simta, Rockliffe), upper-case keywords.
SIMTA_ROWS: tuple[Row, ...] = (
    row("simta", rf"^(\S+) \((\S+) \[({IP})\]\) BY (\S+) (?:\([^\)]+\) WITH SMTP )?ID <?(\S+?)>?"
        r"(?: FOR <[^>]+>)?$", "helo", "rdns", "ip", "by", "id", fixup=fixup_unverified_rdns),
)

# Fields starting "(from " (Norton AntiVirus Gateway, sendmail -t, jqueuemail).
PAREN_ROWS: tuple[Row, ...] = (
    row("navgw", rf"^(\S*) \[({IP})\]\) by (\S+) \(NAVGW .*?\) with ", "helo", "ip", "by"),
    row("sendmail-submit", r"^\S+\@localhost\) by \S+ ", outcome=SKIP),
    row("jqueuemail", r"^[^\s\@]+\@[^)]+\) by \S+\(jqueuemail\) id [^\s;]+", outcome=SKIP),
)
# fmt: on
