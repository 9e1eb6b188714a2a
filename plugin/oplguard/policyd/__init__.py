"""Postfix policy delegation (``check_policy_service``): connection-time verdicts.

``protocol`` is the sans-io wire format, ``decision`` the pure verdict,
``service`` the lookups, ``server`` the asyncio shell.
"""

from __future__ import annotations

from oplguard.policyd.decision import Decision, decide
from oplguard.policyd.protocol import CLOSED, NEED_DATA, PolicyConnection, PolicyRequest

__all__ = ["CLOSED", "NEED_DATA", "Decision", "PolicyConnection", "PolicyRequest", "decide"]
