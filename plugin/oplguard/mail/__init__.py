"""Relay-chain analysis: from a message's header section to the IPs to check.

Pure apart from ``read_sa_trust`` (reads a SpamAssassin config); see
``docs/spec/relay-chain.md`` for the model, which follows SpamAssassin 4.0.
"""
