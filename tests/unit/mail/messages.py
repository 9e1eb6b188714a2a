"""Message builders shared by the relay-chain tests."""

from __future__ import annotations

from oplguard.mail.networks import NetworkList
from oplguard.mail.relays import RelayChain, TrustSettings

DATE = "Tue,  1 Oct 2024 10:00:00 +0000 (UTC)"


def postfix(
    helo: str, rdns: str, ip: str, by: str = "mx.example.net", qid: str = "4Pq7Zk1xyz"
) -> str:
    """A Postfix Received field."""
    return f"Received: from {helo} ({rdns} [{ip}]) by {by} (Postfix) with ESMTP id {qid}; {DATE}"


def message(*headers: str) -> bytes:
    """A message with ``headers`` on top (newest first), CRLF line ends."""
    return ("\r\n".join([*headers, "Subject: test", "", "body", ""])).encode("latin-1")


def trust(
    trusted: tuple[str, ...] | None = None,
    internal: tuple[str, ...] | None = None,
    msa: tuple[str, ...] | None = None,
) -> TrustSettings:
    """Settings as the lead's scanner builds them (None = not configured)."""

    def nets(values: tuple[str, ...] | None) -> NetworkList | None:
        return None if values is None else NetworkList.parse(list(values))

    return TrustSettings(trusted=nets(trusted), internal=nets(internal), msa=nets(msa))


def marks(chain: RelayChain, trusted: bool) -> tuple[str, ...]:
    """The relays of one side as "ip/int" or "ip/ext", top-down."""
    return tuple(
        f"{r.ip}/{'int' if r.internal else 'ext'}" for r in chain.relays if r.trusted is trusted
    )


LOCAL = postfix("localhost", "localhost", "127.0.0.1", qid="2")
ORG = postfix("mail.example.org", "mail.example.org", "192.0.2.10")
SPAM = postfix("spam.example", "unknown", "198.51.100.66", qid="2")
FETCHMAIL = (
    "Received: from localhost [127.0.0.1] by localhost with IMAP (fetchmail-6.4.37) "
    f"for <hank@localhost> (single-drop); {DATE}"
)
FOLDED = (
    "Received: from mail.example.org\r\n\t(mail.example.org\r\n [192.0.2.10])\r\n"
    f"\tby mx.example.net (Postfix) with ESMTP id 7; {DATE}"
)
