"""oplguard: a drop-in spamd that checks every relay IP against Open Proxy Lists."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
