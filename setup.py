"""Optional: ``OPLGUARD_COMPILE=1 pip install .`` compiles the scoring core with mypyc.

The same source, type-checked strictly, compiled to C extension modules:
about 20 % less CPU per message (docs/performance.md).  Without the variable
(the default) oplguard is pure Python.  Needs a C compiler and the Python
headers; the build backend (scripts/backend/oplguard_build.py) brings mypy.
"""

from __future__ import annotations

import os

from setuptools import setup

# The per-message path: Received parsing, trust walk, policy, the spamd codec and the
# connection handling around it.
# (lists/ipset.py stays Python: NumPy does its work already.)
COMPILED = [
    "plugin/oplguard/headerend.py",
    "plugin/oplguard/netparse.py",
    *(
        f"plugin/oplguard/mail/{name}.py"
        for name in (
            "addresses",
            "auth",
            "formats",
            "headers",
            "limits",
            "mta_table",
            "networks",
            "originating",
            "prefilter",
            "received",
            "relays",
            "rewrite",
        )
    ),
    *(
        f"plugin/oplguard/policy/{name}.py"
        for name in ("engine", "explain", "lookup", "report", "scanner", "senders", "verdict")
    ),
    *(
        f"plugin/oplguard/server/{name}.py"
        for name in ("channel", "service", "spamd_protocol", "transport")
    ),
    *(
        f"plugin/oplguard/spamd/{name}.py"
        for name in ("__init__", "body", "connection", "messages", "render")
    ),
]


def ext_modules() -> list[object]:
    if os.environ.get("OPLGUARD_COMPILE") != "1":
        return []
    from mypyc.build import mypycify

    return list(mypycify(COMPILED, opt_level="3"))


setup(ext_modules=ext_modules())
