"""The SQL layer shared by tracking, removals and the web service: SQLite or PostgreSQL."""

from __future__ import annotations

from oplguard.storage.db import Database, StoreError, safe_url

__all__ = ["Database", "StoreError", "safe_url"]
