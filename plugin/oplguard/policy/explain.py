"""Plain-text renderings for the CLI: a scan explained, an IP looked up.

Pure; the words an administrator reads instead of a debug log.
"""

from __future__ import annotations

from typing import Any

from oplguard.policy.scanner import Scan


def explain_text(scan: Scan) -> str:
    """The relay chain, the checks and the verdict of one message."""
    chain, verdict = scan.chain, scan.verdict
    out = ["Relay chain (hop 1 = newest):"]
    if not chain.relays:
        out.append("  (no Received relays found)")
    for relay in chain.relays:
        trust = "trusted" if relay.trusted else "untrusted"
        if relay.internal:
            trust += ", internal"
        marks = []
        if relay.ip == chain.connecting_ip:
            marks.append("CONNECTING IP")
        if relay.originating:
            marks.append("originating header")
        if relay.is_skipped:
            marks.append("skipped: private/reserved")
        if relay.auth:
            marks.append(f"auth={relay.auth}")
        note = f" [{'; '.join(marks)}]" if marks else ""
        out.append(
            f"  hop {relay.hop}: {relay.ip} rdns={relay.rdns or '-'} helo={relay.helo or '-'} "
            f"by={relay.by or '-'} ({trust}){note}"
        )
    out.append(f"Connecting IP: {chain.connecting_ip or 'none (no untrusted relay)'}")
    out.append(f"Checked IPs: {', '.join(verdict.checked_ips) or 'none'}")
    for hit in verdict.listed:
        if hit.counted:
            out.append(f"  HIT {hit.symbol} ({hit.score:+.1f}): {hit.sentence()}")
        elif hit.monitor_only:
            mark = "[monitor-only, not counted]"
            out.append(f"  HIT {hit.symbol} ({hit.score:+.1f}) {mark}: {hit.sentence()}")
        else:
            out.append(f"  NOT COUNTED: {hit.not_counted()}")
        out.append(f"      header: Received: {hit.header[:300]}")
    for failure in verdict.failures:
        out.append(
            f"  LIST ERROR {failure.list_name} for {failure.ip} at hop {failure.hop} "
            f"(on_error={failure.on_error}): {failure.detail}"
        )
    for entry in verdict.allowed:
        out.append(
            f"  ALLOWED: {entry.ip} at hop {entry.hop} by {entry.network} "
            f"({entry.scope} scope) {entry.comment}".rstrip()
        )
    flag = "spam" if verdict.is_spam else "not spam"
    out.append(f"Score: {verdict.score:.1f} / {verdict.required_score:.1f} ({flag})")
    out.append(f"Action: {verdict.action}")
    out.append(f"Reason: {verdict.reason}")
    return "\n".join(out)


def lookup_text(result: dict[str, Any]) -> str:
    """One line per list, then groups and allow state."""
    out = [f"{result['ip']} (IPv{result['version']})"]
    if result["skipped"]:
        out.append("  note: private/reserved address, never checked in a relay chain")
    for item in result["lists"]:
        if item["listed"]:
            since = f" since {item['listed_since']}" if item["listed_since"] else ""
            until = f" until {item['expires']}" if item["expires"] else ""
            out.append(
                f"  {item['list']} ({item['category']}): LISTED{since}{until}: "
                f"{item['reason'] or 'no reason given'}"
            )
        else:
            out.append(f"  {item['list']} ({item['category']}): not listed")
    if result["blocked_sender"]:
        out.append(f"  Blocked Senders: LISTED by {result['blocked_sender']['network']}")
    for group in result["groups"]:
        state = "enabled" if group["enabled"] else "disabled"
        hits = ", ".join(group["listed_on"]) or "no hit"
        out.append(f"  group {group['group']} ({state}, action {group['action']}): {hits}")
    for entry in result["allowed"]:
        out.append(
            f"  ALLOWED ({entry['scope']} scope) by {entry['network']} {entry['comment']}".rstrip()
        )
    return "\n".join(out)
