"""Removal requests: intake with rate limits and merging, admin review, audit log.

Blocking code (list files, the database); the web service calls it through
``asyncio.to_thread`` and the ``oplguard removals`` command calls it directly.
"""
