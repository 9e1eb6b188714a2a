"""Plain words for list categories and what a listed owner should do (the FAQ).

Pure data; the lookup page and the JSON API show the same text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    """A list category as a person reads it: its name, what it means, what to do."""

    name: str
    meaning: str
    advice: tuple[str, ...]


SECURITY_AUDIT = (
    "Perform a security audit of the systems behind this address: a listing often "
    "means a machine there has been compromised."
)

CATEGORIES = {
    "open-proxy": Category(
        "Open proxy",
        "An open proxy lets arbitrary users or machines send mail through it. Open "
        "proxies are often old or badly configured servers, but can also be "
        "compromised personal computers.",
        (
            "Make sure the machine accepts no unauthenticated relay connections on any "
            "port: SMTP, HTTP CONNECT, SOCKS. Only your own users, authenticated, may "
            "send mail elsewhere.",
            "Check the machine for compromise: an open proxy often means it was "
            "successfully attacked.",
            "If it is professionally hosted, ask your system administrator for help. "
            "Never run port scanners without the network owner's permission.",
        ),
    ),
    "zombie": Category(
        "Zombie (compromised computer)",
        "A zombie is a computer compromised by a virus or worm and controlled from "
        "elsewhere, without its owner knowing, to send spam as part of a botnet.",
        (
            "Scan every machine behind this address with an up-to-date virus scanner "
            "and remove any malware found.",
            "On dial-up, cable or DSL, send mail through your provider's mail server, "
            "not directly to the Internet.",
            "A professionally hosted mail server with a static address: make sure its "
            "reverse DNS does not look residential (see the reverse-DNS check below).",
        ),
    ),
    "spam-source": Category(
        "Observed spam source",
        "Mail identified as spam was observed coming from this address.",
        (
            SECURITY_AUDIT,
            "Find what sent the spam (a compromised account, a web form, a script) "
            "and stop it before asking for removal.",
        ),
    ),
}


def category_of(word: str) -> Category:
    """The category for a list's ``category`` word; custom words get generic advice."""
    known = CATEGORIES.get(word)
    if known is not None:
        return known
    return Category(
        word.replace("-", " ").capitalize(), "Listed by this site's own policy.", (SECURITY_AUDIT,)
    )
