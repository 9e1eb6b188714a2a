"""Connection-time decisions: only ``reject`` groups decide; allow lists win."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from oplguard.config.model import GroupConfig, ScoringConfig, SenderEntry
from oplguard.policy.engine import ListHitLike, Policy
from oplguard.policy.senders import SenderSet
from oplguard.policy.verdict import LookupFailure
from oplguard.policyd.decision import (
    MAX_REPLY_TEXT_CHARS,
    PolicyAction,
    client_chain,
    client_ip,
    connection_policy,
    decide,
    reject_lists,
)

NOW = datetime(2026, 11, 24, tzinfo=UTC)
URL = "https://lookup.example.net/ip/{ip}"


@dataclass(frozen=True)
class Entry:
    reason: str = "open proxy seen on port 8080"
    listed_since: str | None = "2026-10-01"
    expires: str | None = None


@dataclass(frozen=True)
class FoundHit:
    list_name: str
    category: str
    entry: Entry = field(default_factory=Entry)


LISTED = {
    "192.0.2.99": FoundHit("opl", "open-proxy"),
    "2001:db8:bad::25": FoundHit("opl", "open-proxy"),
}


def lookup(ip: str) -> Sequence[ListHitLike]:
    return [LISTED[ip]] if ip in LISTED else []


def policy(
    action: str = "reject", enabled: bool = True, allowed: tuple[SenderEntry, ...] = ()
) -> Policy:
    groups = (
        GroupConfig("open_proxy_list", ("opl",), enabled=enabled, action=action, symbol="OPL"),
        GroupConfig("zombies", ("zombies",), action="delete", symbol="ZOMBIE"),
    )
    return Policy(groups, ScoringConfig(), SenderSet.build(allowed))


def run(
    ip: str,
    pol: Policy,
    failures: Sequence[LookupFailure] = (),
    lookup_url: str = "",
    monitor_only: frozenset[str] = frozenset(),
) -> tuple[str, str]:
    chain = client_chain(ip, "proxy.example.org")
    decision = decide(chain, lookup, pol, NOW, failures, lookup_url, monitor_only)
    return decision.action, decision.text


def test_listed_client_of_a_reject_group_is_rejected_with_reason_and_url() -> None:
    action, text = run("192.0.2.99", policy(), lookup_url=URL)
    assert action == PolicyAction.REJECT
    assert text.startswith("5.7.1 Open Proxy sender violation: client 192.0.2.99 is listed on opl")
    assert "(open-proxy): open proxy seen on port 8080" in text
    assert text.endswith("; lookup and removal: https://lookup.example.net/ip/192.0.2.99")


def test_reply_is_the_action_and_its_text() -> None:
    decision = decide(client_chain("192.0.2.99", ""), lookup, policy(), NOW)
    assert decision.reply == f"REJECT {decision.text}"
    assert decide(client_chain("198.51.100.7", ""), lookup, policy(), NOW).reply == "DUNNO"


def test_ipv6_client_is_checked() -> None:
    assert run("2001:db8:bad::25", policy())[0] == PolicyAction.REJECT


def test_unlisted_client_is_dunno() -> None:
    assert run("198.51.100.7", policy()) == (PolicyAction.DUNNO, "")


@pytest.mark.parametrize("action", ["delete", "tag"])
def test_delete_and_tag_groups_do_not_decide_at_connection_time(action: str) -> None:
    # They need the Received chain; the content filter after DATA applies them.
    assert run("192.0.2.99", policy(action=action)) == (PolicyAction.DUNNO, "")


def test_disabled_reject_group_does_not_decide() -> None:
    assert run("192.0.2.99", policy(enabled=False))[0] == PolicyAction.DUNNO


@pytest.mark.parametrize("scope", ["connection", "hop"])
def test_allow_entry_of_either_scope_lets_the_client_in(scope: str) -> None:
    allowed = (SenderEntry("192.0.2.0/24", scope=scope, comment="partner"),)
    decision = decide(client_chain("192.0.2.99", ""), lookup, policy(allowed=allowed), NOW)
    assert decision.action == PolicyAction.DUNNO
    assert decision.why == "allowed by 192.0.2.0/24"


def test_expired_allow_entry_no_longer_applies() -> None:
    allowed = (
        SenderEntry("192.0.2.99", scope="connection", expires=datetime(2020, 1, 1, tzinfo=UTC)),
    )
    assert run("192.0.2.99", policy(allowed=allowed))[0] == PolicyAction.REJECT


def failure(on_error: str, name: str = "opl-dns") -> LookupFailure:
    return LookupFailure(
        name, "198.51.100.7", 1, "Timeout: no answer", on_error, "OPL_DNS_UNAVAILABLE"
    )


def test_list_error_with_tempfail_policy_defers() -> None:
    action, text = run("198.51.100.7", policy(), failures=[failure("tempfail")])
    assert action == PolicyAction.DEFER_IF_PERMIT
    assert text.startswith("4.7.1 Cannot check 198.51.100.7 against list opl-dns")


@pytest.mark.parametrize("on_error", ["ignore", "score"])
def test_list_error_without_tempfail_policy_lets_the_client_in(on_error: str) -> None:
    assert run("198.51.100.7", policy(), failures=[failure(on_error)])[0] == PolicyAction.DUNNO


def test_a_hit_rejects_even_when_another_list_failed() -> None:
    assert run("192.0.2.99", policy(), failures=[failure("tempfail")])[0] == PolicyAction.REJECT


def test_allowed_client_is_not_deferred_by_a_list_error() -> None:
    allowed = (SenderEntry("198.51.100.7", scope="connection"),)
    assert (
        run("198.51.100.7", policy(allowed=allowed), failures=[failure("tempfail")])[0]
        == PolicyAction.DUNNO
    )


def test_monitor_only_list_never_rejects() -> None:
    assert run("192.0.2.99", policy(), monitor_only=frozenset({"opl"}))[0] == PolicyAction.DUNNO


def test_blocked_senders_group_rejects() -> None:
    blocked = GroupConfig(
        "blocked_senders",
        ("blocked_senders",),
        action="reject",
        symbol="BLOCKED_SENDER",
        reason="Blocked sender",
    )
    pol = Policy((blocked,), ScoringConfig(), SenderSet.build(()))

    def local(ip: str) -> Sequence[ListHitLike]:
        return [FoundHit("blocked_senders", "blocked", Entry("abuse desk ticket 12", None))]

    decision = decide(client_chain("198.51.100.7", ""), local, pol, NOW)
    assert decision.action == PolicyAction.REJECT
    assert "Blocked sender: client 198.51.100.7 is listed on blocked_senders" in decision.text


def test_reject_text_is_one_printable_line_of_bounded_length() -> None:
    long_reason = "evil\r\nSMTP injection\x00 " + "x" * 1000
    hits = {"192.0.2.99": FoundHit("opl", "open-proxy", Entry(long_reason))}

    def noisy(ip: str) -> Sequence[ListHitLike]:
        return [hits[ip]] if ip in hits else []

    decision = decide(client_chain("192.0.2.99", ""), noisy, policy(), NOW, lookup_url=URL)
    assert len(decision.text) <= MAX_REPLY_TEXT_CHARS
    assert decision.text.isprintable() and decision.text.isascii()
    assert decision.text.endswith("https://lookup.example.net/ip/192.0.2.99")


def test_connection_policy_keeps_only_enabled_reject_groups() -> None:
    pol = policy()
    assert [g.name for g in connection_policy(pol).groups] == ["open_proxy_list"]
    assert reject_lists(pol) == frozenset({"opl"})
    assert reject_lists(policy(action="delete")) == frozenset()


def test_client_chain_is_one_connecting_relay() -> None:
    chain = client_chain("192.0.2.99", "")
    assert chain.connecting_ip == "192.0.2.99"
    assert [(r.ip, r.hop) for r in chain.checked] == [("192.0.2.99", 1)]
    assert "unknown[192.0.2.99]" in chain.checked[0].raw


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.99", "192.0.2.99"),
        ("2001:db8:bad::25", "2001:db8:bad::25"),
        ("::ffff:192.0.2.99", "192.0.2.99"),
        ("", None),
        ("unknown", None),
        ("127.0.0.1", None),
        ("10.1.2.3", None),
        ("192.0.2.099", None),
    ],
    ids=["v4", "v6", "v4-mapped", "empty", "unknown", "loopback", "private", "octal-looking"],
)
def test_client_ip_is_canonical_and_public(text: str, expected: str | None) -> None:
    assert client_ip(text) == expected


def test_a_client_listed_only_by_a_content_scan_group_says_why_it_is_not_counted() -> None:
    groups = (GroupConfig("zombies", ("opl",), True, "delete", "ZOMBIE"),)
    pol = Policy(groups, ScoringConfig(), SenderSet.build(()))
    decision = decide(client_chain("192.0.2.99", "x"), lookup, pol, NOW)
    assert decision.action == PolicyAction.DUNNO
    assert decision.verdict is not None
    [hit] = decision.verdict.uncounted
    assert hit.because == (
        "group zombies (action delete) is checked by the content scan after DATA, "
        "not at connection time"
    )
