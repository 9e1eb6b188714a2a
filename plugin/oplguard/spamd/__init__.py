"""spamd."""
