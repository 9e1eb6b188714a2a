"""Report text and headers: SpamAssassin's table layout plus plain-words evidence."""

from __future__ import annotations

from dataclasses import replace

from oplguard.policy.report import (
    format_points,
    lookup_link,
    report_text,
    spam_headers,
    verdict_header,
)
from oplguard.policy.verdict import Allowed, Hit, LookupFailure, Symbol, Verdict


def hit(ip: str = "203.0.113.66", hop: int = 3) -> Hit:
    return Hit(
        ip=ip,
        hop=hop,
        list_name="opl",
        category="open-proxy",
        symbol="OPL_RELAY",
        score=8.0,
        group="open_proxy_list",
        action="delete",
        phrase="Open Proxy sender violation",
        reason="SOCKS proxy on port 1080",
        is_connecting=False,
        header="from zombie.example (unknown [203.0.113.66]) by out",
        listed_since="2026-10-02",
    )


def verdict(hits: tuple[Hit, ...] = (), allowed: tuple[Allowed, ...] = ()) -> Verdict:
    symbols = tuple(Symbol(h.symbol, h.score, h.sentence()) for h in hits)
    score = sum(s.score for s in symbols)
    action = "delete" if hits else "pass"
    return Verdict(score, 5.0, symbols, hits, allowed, action, ("192.0.2.10", "203.0.113.66"))


def test_points_column_follows_spamassassin() -> None:
    assert format_points(8.0) == " 8.0"
    assert format_points(-5.0) == "-5.0"
    assert format_points(10.0) == "  10"


def test_report_table_and_evidence() -> None:
    text = report_text(verdict((hit(),)), "mx1", "https://lookup.example/ip/{ip}")
    assert "Content analysis details:   (8.0 points, 5.0 required)" in text
    assert " 8.0 OPL_RELAY              Open Proxy sender violation: relay IP" in text
    assert " hop 3: 203.0.113.66 on opl (open-proxy, listed since 2026-10-02)" in text
    assert "Lookup and removal: https://lookup.example/ip/203.0.113.66" in text
    assert text.endswith("\n\n")


def test_ham_report_has_an_empty_table() -> None:
    text = report_text(verdict(), "mx1")
    assert "(0.0 points, 5.0 required)" in text
    assert "Evidence" not in text


def test_verdict_header_names_action_ip_hop_list_reason() -> None:
    value = verdict_header(verdict((hit(),)))
    assert value.startswith('delete; ip=203.0.113.66; hop=3; list=opl; reason="Open Proxy')
    assert verdict_header(verdict()) == "pass"


def test_spam_headers_flag_and_level() -> None:
    headers = dict(spam_headers(verdict((hit(),)), "mx1"))
    assert headers["X-Spam-Flag"] == "YES"
    assert headers["X-Spam-Level"] == "********"
    assert headers["X-Spam-Status"].startswith("Yes, score=8.0 required=5.0 tests=OPL_RELAY ")
    assert "X-Spam-Flag" not in dict(spam_headers(verdict(), "mx1"))


def test_lookup_link_template() -> None:
    assert lookup_link("", "192.0.2.1") == ""
    assert lookup_link("https://x/ip/", "192.0.2.1") == "https://x/ip/192.0.2.1"
    assert lookup_link("https://x/?q={ip}", "2001:db8::1") == "https://x/?q=2001:db8::1"


def test_monitor_only_hit_is_marked_in_the_report() -> None:
    # Issue 20: REPORT showed "-> delete" beside "Verdict: pass" with no marker.
    monitored = replace(hit(), score=0.0, monitor_only=True)
    text = report_text(Verdict(0.0, 5.0, (), (monitored,), (), "pass", ("203.0.113.66",)), "mx")
    assert "Verdict: pass" in text
    assert "-> delete [monitor-only, not counted]: SOCKS proxy" in text


def test_a_list_that_cannot_answer_defers_only_mail_not_already_spam() -> None:
    failure = LookupFailure("opl-dns", "192.0.2.10", 1, "Timeout", "tempfail", "OPL_DNS_ERR")
    ham = Verdict(0.0, 5.0, (), (), (), "pass", ("192.0.2.10",), (failure,))
    spam = replace(verdict((hit(),)), failures=(failure,))
    assert ham.tempfail
    assert spam.is_spam and not spam.tempfail
