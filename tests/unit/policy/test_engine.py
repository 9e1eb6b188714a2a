"""Policy engine: allow lists decide first, actions choose the hops, symbols score once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from oplguard.config.model import GroupConfig, ScoringConfig, SenderEntry
from oplguard.policy.engine import ListHitLike, Policy, evaluate
from oplguard.policy.senders import SenderSet
from oplguard.policy.verdict import Verdict, hop_results

NOW = datetime(2026, 11, 24, tzinfo=UTC)


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


@dataclass(frozen=True)
class Relay:
    ip: str
    hop: int
    raw: str = "from x (x [ip]) by mx.example.net"


@dataclass(frozen=True)
class Chain:
    connecting_ip: str | None
    checked: Sequence[Relay]


LISTED = {
    "192.0.2.99": ("opl", "open-proxy"),
    "203.0.113.66": ("opl", "open-proxy"),
    "198.51.100.200": ("zombies", "zombie"),
}


def lookup(ip: str) -> Sequence[ListHitLike]:
    if ip in LISTED:
        name, category = LISTED[ip]
        return [FoundHit(name, category)]
    return []


def policy(
    action: str = "delete", enabled: bool = True, allowed: tuple[SenderEntry, ...] = ()
) -> Policy:
    groups = (
        GroupConfig("open_proxy_list", ("opl",), enabled, action, "OPL"),
        GroupConfig("zombies", ("zombies",), True, "tag", "ZOMBIE", "Zombie sender violation"),
    )
    return Policy(groups, ScoringConfig(), SenderSet.build(allowed))


def chain(*ips: str) -> Chain:
    relays = [Relay(ip, hop) for hop, ip in enumerate(ips, start=1)]
    return Chain(ips[0] if ips else None, relays)


def test_clean_chain_passes_with_zero_score() -> None:
    verdict = evaluate(chain("192.0.2.10", "198.51.100.7"), lookup, policy(), NOW)
    assert (verdict.score, verdict.action, verdict.hits, verdict.offending) == (
        0.0,
        "pass",
        (),
        None,
    )
    assert verdict.checked_ips == ("192.0.2.10", "198.51.100.7")


def test_delete_checks_every_hop() -> None:
    verdict = evaluate(chain("192.0.2.10", "198.51.100.7", "203.0.113.66"), lookup, policy(), NOW)
    assert verdict.action == "delete"
    assert [(s.name, s.score) for s in verdict.symbols] == [("OPL_RELAY", 8.0)]
    hit = verdict.offending
    assert hit is not None and (hit.ip, hit.hop, hit.is_connecting) == ("203.0.113.66", 3, False)
    assert "203.0.113.66 at hop 3 is listed on opl (open-proxy)" in verdict.reason


def test_reject_checks_only_the_connecting_ip() -> None:
    deep = evaluate(chain("192.0.2.10", "203.0.113.66"), lookup, policy("reject"), NOW)
    assert deep.action == "pass"
    direct = evaluate(chain("192.0.2.99"), lookup, policy("reject"), NOW)
    assert direct.action == "reject"
    assert direct.symbols[0].name == "OPL_CONNECTING"


def test_disabled_group_is_not_consulted() -> None:
    verdict = evaluate(chain("192.0.2.99"), lookup, policy(enabled=False), NOW)
    assert verdict.action == "pass"
    assert verdict.score == 0.0


def test_symbol_scores_once_for_several_hits() -> None:
    verdict = evaluate(chain("192.0.2.10", "192.0.2.99", "203.0.113.66"), lookup, policy(), NOW)
    assert len(verdict.hits) == 2
    assert verdict.score == 8.0


def test_strongest_action_wins_and_names_the_offender() -> None:
    verdict = evaluate(chain("198.51.100.200", "203.0.113.66"), lookup, policy("delete"), NOW)
    assert verdict.action == "delete"
    assert verdict.offending is not None and verdict.offending.ip == "203.0.113.66"
    assert verdict.score == 18.0  # ZOMBIE_CONNECTING 10 + OPL_RELAY 8


def test_hop_allow_entry_overrides_block_hit() -> None:
    allowed = (SenderEntry("203.0.113.66", "hop", comment="partner"),)
    verdict = evaluate(chain("192.0.2.10", "203.0.113.66"), lookup, policy(allowed=allowed), NOW)
    assert verdict.action == "pass"
    assert [a.ip for a in verdict.allowed] == ["203.0.113.66"]
    assert verdict.score == -5.0


def test_connection_allow_entry_skips_all_checks() -> None:
    allowed = (SenderEntry("192.0.2.0/24", "connection"),)
    verdict = evaluate(chain("192.0.2.99", "203.0.113.66"), lookup, policy(allowed=allowed), NOW)
    assert verdict.hits == ()
    assert verdict.allowed[0].scope == "connection"


def test_connection_allow_entry_ignores_deeper_hops() -> None:
    allowed = (SenderEntry("203.0.113.66", "connection"),)
    verdict = evaluate(chain("192.0.2.10", "203.0.113.66"), lookup, policy(allowed=allowed), NOW)
    assert verdict.action == "delete"


@pytest.mark.parametrize(
    ("expires", "applies"),
    [(datetime(2026, 11, 23, tzinfo=UTC), False), (datetime(2026, 11, 25, tzinfo=UTC), True)],
    ids=["expired", "active"],
)
def test_expiry_of_allow_entries(expires: datetime, applies: bool) -> None:
    allowed = (SenderEntry("203.0.113.66", "hop", expires=expires),)
    verdict = evaluate(chain("203.0.113.66"), lookup, policy(allowed=allowed), NOW)
    assert (verdict.action == "pass") is applies


def test_most_specific_allow_entry_is_reported() -> None:
    allowed = (
        SenderEntry("203.0.113.0/24", "hop", comment="wide"),
        SenderEntry("203.0.113.66", "hop", comment="narrow"),
    )
    verdict = evaluate(chain("203.0.113.66"), lookup, policy(allowed=allowed), NOW)
    assert verdict.allowed[0].comment == "narrow"


def test_no_relays_no_hits() -> None:
    verdict = evaluate(Chain(None, []), lookup, policy(), NOW)
    assert verdict.action == "pass"
    assert verdict.reason == "No relay IP is listed"


def not_counted(verdict: Verdict) -> list[tuple[str, int, str, str | None]]:
    return [(h.ip, h.hop, h.list_name, h.because) for h in verdict.listed if not h.counted]


def test_reject_group_reports_the_deep_listed_hop_as_not_counted() -> None:
    chain4 = chain("192.0.2.10", "198.51.100.7", "198.51.100.8", "203.0.113.66")
    verdict = evaluate(chain4, lookup, policy("reject"), NOW)
    assert verdict.action == "pass" and verdict.hits == ()
    [(ip, hop, name, because)] = not_counted(verdict)
    assert (ip, hop, name) == ("203.0.113.66", 4, "opl")
    assert because == (
        "group open_proxy_list has action reject, which checks the connecting IP only "
        "(this is hop 4)"
    )
    assert verdict.reason.startswith("No listed IP counts: 203.0.113.66 at hop 4 is listed on opl")
    assert "No relay IP is listed" not in verdict.reason


def test_disabled_group_reports_the_listed_ip_as_not_counted() -> None:
    verdict = evaluate(chain("192.0.2.99"), lookup, policy(enabled=False), NOW)
    assert not_counted(verdict) == [("192.0.2.99", 1, "opl", "group open_proxy_list is disabled")]


def test_connection_allow_reports_every_listed_hop_with_the_entry() -> None:
    expires = datetime(2027, 1, 1, tzinfo=UTC)
    allowed = (SenderEntry("192.0.2.0/24", "connection", expires, "partner MX"),)
    verdict = evaluate(chain("192.0.2.99", "203.0.113.66"), lookup, policy(allowed=allowed), NOW)
    entry = "192.0.2.0/24 (connection scope, expires 2027-01-01T00:00:00+00:00, 'partner MX')"
    assert not_counted(verdict) == [
        ("192.0.2.99", 1, "opl", f"allowed by entry {entry}"),
        (
            "203.0.113.66",
            2,
            "opl",
            f"the connecting IP 192.0.2.99 is allowed by entry {entry}, so no hop is checked",
        ),
    ]


def test_hop_allow_reports_the_listed_hop_with_the_entry() -> None:
    allowed = (SenderEntry("203.0.113.66", "hop", comment="partner"),)
    verdict = evaluate(chain("192.0.2.10", "203.0.113.66"), lookup, policy(allowed=allowed), NOW)
    assert not_counted(verdict) == [
        ("203.0.113.66", 2, "opl", "allowed by entry 203.0.113.66 (hop scope, 'partner')")
    ]


def test_monitor_only_hit_is_listed_with_its_reason_and_scores_nothing() -> None:
    verdict = evaluate(chain("192.0.2.99"), lookup, policy(), NOW, monitor_only=frozenset({"opl"}))
    assert verdict.score == 0.0 and verdict.action == "pass"
    [(_, _, _, because)] = not_counted(verdict)
    assert because is not None and "monitor-only" in because
    assert verdict.reason.startswith("No listed IP counts: 192.0.2.99 at hop 1")


def test_trusted_relay_on_a_list_is_reported_as_not_counted() -> None:
    trusted = [Relay("192.0.2.99", 1)]
    verdict = evaluate(chain("192.0.2.10"), lookup, policy(), NOW, trusted=trusted)
    assert verdict.action == "pass"
    [(ip, _, _, because)] = not_counted(verdict)
    assert ip == "192.0.2.99" and because is not None and because.startswith("trusted relay")


def test_list_in_no_group_is_reported_as_not_counted() -> None:
    only_zombies = Policy(policy().groups[1:], ScoringConfig(), SenderSet.build(()))
    verdict = evaluate(chain("192.0.2.99"), lookup, only_zombies, NOW)
    assert not_counted(verdict) == [("192.0.2.99", 1, "opl", "list opl is in no sender group")]


def test_counted_and_not_counted_hits_carry_the_flag_in_json() -> None:
    verdict = evaluate(chain("192.0.2.99", "203.0.113.66"), lookup, policy("reject"), NOW)
    rows = [(h.as_dict()["counted"], h.as_dict()["because"] is None) for h in verdict.listed]
    assert rows == [(True, True), (False, False)]


@pytest.mark.parametrize(
    ("action", "allowed", "expected"),
    [
        ("delete", (), "listed:opl"),
        (
            "reject",
            (),
            "not counted:opl (group open_proxy_list has action reject, which "
            "checks the connecting IP only (this is hop 2))",
        ),
        (
            "delete",
            (SenderEntry("203.0.113.66", "hop"),),
            "allowed:203.0.113.66;not counted:opl (allowed by entry 203.0.113.66 (hop scope))",
        ),
    ],
    ids=["counted", "reject-deep", "allowed"],
)
def test_hop_results_never_say_clean_for_a_listed_ip(
    action: str, allowed: tuple[SenderEntry, ...], expected: str
) -> None:
    verdict = evaluate(
        chain("192.0.2.10", "203.0.113.66"), lookup, policy(action, allowed=allowed), NOW
    )
    results = hop_results(verdict, [("192.0.2.10", 1), ("203.0.113.66", 2)])
    assert results == {("192.0.2.10", 1): "clean", ("203.0.113.66", 2): expected}
