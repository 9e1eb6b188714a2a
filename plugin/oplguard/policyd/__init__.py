"""Postfix policy delegation (``check_policy_service``): connection-time verdicts.

``protocol`` is the sans-io wire format, ``decision`` the pure verdict,
``service`` the lookups, ``server`` the asyncio shell.
"""
