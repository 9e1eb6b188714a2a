"""Render a verdict as SpamAssassin-style headers and report text.

Pure.  The report table follows SpamAssassin's layout, which clients such as
Teamwork/go-spamc parse; every hit also gets an evidence line in plain words.
"""

from __future__ import annotations

from oplguard import __version__
from oplguard.mail.limits import MAX_REPORT_HITS
from oplguard.policy.verdict import Verdict
from oplguard.textsafe import printable

REPORT_RULE = "---- ---------------------- " + "-" * 50
# SpamAssassin caps X-Spam-Level at 50 stars (PerMsgStatus _get_tag_value_for_score).
MAX_LEVEL_STARS = 50
VERDICT_HEADER = "X-Oplguard-Verdict"


def format_points(score: float) -> str:
    """SpamAssassin's column: ``%4.1f``, or ``%4.0f`` when |score| >= 10."""
    return f"{score:4.0f}" if abs(score) >= 10 else f"{score:4.1f}"


def lookup_link(template: str, ip: str) -> str:
    """The lookup-page URL for ``ip`` (``{ip}`` in the template), or ""."""
    if not template:
        return ""
    return template.replace("{ip}", ip) if "{ip}" in template else template + ip


def report_text(verdict: Verdict, hostname: str, lookup_url: str = "") -> str:
    """The REPORT body: preamble, rule table, then the evidence.

    Evidence is shown for the first ``MAX_REPORT_HITS`` hits (the table names
    every symbol); header text from the message has its control characters escaped.
    """
    lines = [
        f'Spam detection software, running on the system "{hostname}",',
        "has checked the relay chain of this message against the configured block lists.",
        f"Verdict: {verdict.action} - {printable(verdict.reason)}",
        "",
        f"Content analysis details:   ({verdict.score:.1f} points, "
        f"{verdict.required_score:.1f} required)",
        "",
        " pts rule name              description",
        REPORT_RULE,
    ]
    for symbol in verdict.symbols:
        lines.append(
            f"{format_points(symbol.score)} {symbol.name:<22} {printable(symbol.description)}"
        )
    listed = verdict.listed
    if listed:
        lines += ["", "Evidence (newest hop first):"]
    shown = listed[:MAX_REPORT_HITS]
    for hit in shown:
        since = f", listed since {hit.listed_since}" if hit.listed_since else ""
        outcome = (
            f"{hit.action}: {hit.reason or hit.phrase}"
            if hit.counted
            else f"{hit.action} [monitor-only, not counted]: {hit.reason or hit.phrase}"
            if hit.monitor_only
            else f"not counted: {hit.because}"
        )
        lines.append(
            f" hop {hit.hop}: {hit.ip} on {hit.list_name} ({hit.category}{since}) -> {outcome}"
        )
        lines.append(f"   Received: {printable(hit.header[:300])}")
        if link := lookup_link(lookup_url, hit.ip):
            lines.append(f"   Lookup and removal: {link}")
    if len(listed) > len(shown):
        more = len(listed) - len(shown)
        lines.append(f" ... and {more} more hits (evidence cut at {MAX_REPORT_HITS} hits)")
    for entry in verdict.allowed:
        lines.append(
            f" allowed: {entry.ip} at hop {entry.hop} by {entry.network} "
            f"({entry.scope} scope{', ' + entry.comment if entry.comment else ''})"
        )
    return "\n".join(lines) + "\n\n"


def verdict_header(verdict: Verdict) -> str:
    """``<action>; ip=<ip>; hop=<n>; list=<name>; reason="..."``."""
    hit = verdict.offending
    if hit is None:
        if verdict.allowed:
            entry = verdict.allowed[0]
            return (
                f"pass; ip={entry.ip}; hop={entry.hop}; allowed={entry.network}; "
                'reason="allowed sender"'
            )
        return "pass"
    reason = hit.sentence().replace('"', "'")
    return f'{verdict.action}; ip={hit.ip}; hop={hit.hop}; list={hit.list_name}; reason="{reason}"'


def spam_headers(verdict: Verdict, hostname: str) -> list[tuple[str, str]]:
    """The headers PROCESS adds, in SpamAssassin's order (report_safe 0)."""
    flag = "Yes" if verdict.is_spam else "No"
    tests = ",".join(sorted(symbol.name for symbol in verdict.symbols)) or "none"
    stars = "*" * min(MAX_LEVEL_STARS, max(0, int(verdict.score)))
    headers = [("X-Spam-Checker-Version", f"oplguard {__version__} on {hostname}")]
    if verdict.is_spam:
        headers.append(("X-Spam-Flag", "YES"))
    headers += [
        ("X-Spam-Level", stars),
        (
            "X-Spam-Status",
            f"{flag}, score={verdict.score:.1f} required={verdict.required_score:.1f} "
            f"tests={tests} autolearn=disabled version=oplguard-{__version__}",
        ),
        (VERDICT_HEADER, verdict_header(verdict)),
    ]
    return headers
