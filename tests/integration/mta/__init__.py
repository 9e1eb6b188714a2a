"""Harnesses that run real MTAs and a real SpamAssassin spamd in temp folders."""
