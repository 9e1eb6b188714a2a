"""Relay-chain analysis: from a message's header section to the IPs to check.

Pure apart from ``read_sa_trust`` (reads a SpamAssassin config); see
``docs/spec/relay-chain.md`` for the model, which follows SpamAssassin 4.0.
"""

from __future__ import annotations

from oplguard.mail.addresses import (
    canonical_ip,
    find_ips,
    is_loopback,
    is_private,
    is_skipped,
    skip_reason,
)
from oplguard.mail.headers import header_fields
from oplguard.mail.networks import NetworkList
from oplguard.mail.received import Fetch, ParseResult, Relay, Skipped, Unparseable, parse_received
from oplguard.mail.relays import (
    DEFAULT_ORIGINATING_HEADERS,
    ChainRelay,
    RelayChain,
    TrustSettings,
    build_chain,
)
from oplguard.mail.sa_config import read_sa_trust

__all__ = [
    "DEFAULT_ORIGINATING_HEADERS",
    "ChainRelay",
    "Fetch",
    "NetworkList",
    "ParseResult",
    "Relay",
    "RelayChain",
    "Skipped",
    "TrustSettings",
    "Unparseable",
    "build_chain",
    "canonical_ip",
    "find_ips",
    "header_fields",
    "is_loopback",
    "is_private",
    "is_skipped",
    "parse_received",
    "read_sa_trust",
    "skip_reason",
]
