"""The build backend: setuptools, plus mypy when ``OPLGUARD_COMPILE=1`` asks for mypyc.

An in-tree wrapper (pyproject.toml ``backend-path``) so that the ordinary
install never downloads mypy; setup.py does the compiling.
"""

from __future__ import annotations

import os
import tomllib

from setuptools.build_meta import *  # noqa: F403 - the wrapped backend's other hooks

# The mypy that compiles oplguard's scoring core (the one `make typecheck` uses).
MYPYC = "mypy[mypyc]>=1.13"


def _compile() -> list[str]:
    """mypy, and every runtime dependency: mypyc type-checks the compiled modules against
    the packages they import (numpy, dnspython, ...), so the isolated build environment
    must hold them too, or the build fails on "Cannot find implementation"."""
    if os.environ.get("OPLGUARD_COMPILE") != "1":
        return []
    with open("pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    return [MYPYC, *project["dependencies"]]


# setuptools' own hooks would run setup.py to collect ``setup_requires`` (there are
# none), and setup.py needs mypy before it is installed when compiling.
def get_requires_for_build_wheel(config_settings: dict[str, str] | None = None) -> list[str]:
    return _compile()


def get_requires_for_build_editable(config_settings: dict[str, str] | None = None) -> list[str]:
    return _compile()
