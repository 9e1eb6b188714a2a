"""Configuration: one TOML file parsed into frozen dataclasses.

Defaults live in the dataclass fields and nowhere else.  (Work in progress:
the loader is being written; ListConfig is the contract the list code uses.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ListConfig:
    """One named list loaded from a local file.

    Attributes:
        name: the list's name, as shown in verdicts (``opl``).
        path: the file, already resolved relative to the config file.
        category: ``open-proxy``, ``zombie``, ``spam-source`` or a custom word.
        format: ``plain`` (one IP, CIDR or range a line, optional reason),
            ``ip4set`` or ``ip6tset`` (rbldnsd dataset syntax).
        description: free text shown in reports and on the lookup page.
    """

    name: str
    path: Path
    category: str = "open-proxy"
    format: str = "plain"
    description: str = ""
