"""The spamd protocol, sans-io: bytes in, requests out; results in, bytes out.

Nothing here imports asyncio or socket (see ``server/`` for the transport).
"""
