"""The documentation cites only files in this repository, and its lookup_url examples
point at a route the web service has."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from starlette.routing import Match

from oplguard.web.app import ROUTES

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS += [ROOT / "tests" / "data" / "received" / "README.md"]
SKIP_DIRS = {".git", ".venv", "build", "node_modules", "__pycache__", ".mypy_cache"}


def repo_files() -> set[str]:
    """The names of the files in the repository (build and tool folders left out)."""
    names: set[str] = set()
    for _, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        names.update(files)
    return names


REPO_FILES = repo_files()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cite_no_file_outside_the_repo(doc: Path) -> None:
    text = doc.read_text()
    # (paths leaving the repository: tests/unit/test_docs_standalone.py, for every tracked file)
    for link in re.findall(r"\]\(([^)#\s]+)\)", text):
        if not link.startswith(("http://", "https://", "mailto:")):
            assert (doc.parent / link).exists(), f"{doc.name}: link to missing {link}"
    for name in re.findall(r"`(?:[\w./-]*/)?([\w.-]+\.md)`", text):
        assert name in REPO_FILES, f"{doc.name}: cites {name}, which is not in the repository"


def test_lookup_url_examples_point_at_a_route_of_the_web_service() -> None:
    examples = [
        url
        for doc in DOCS
        for url in re.findall(r'lookup_url = "(https?://[^"]+)"', doc.read_text())
    ]
    assert examples
    for url in examples:
        filled = url.replace("{ip}", "192.0.2.99") if "{ip}" in url else url + "192.0.2.99"
        path = re.sub(r"^https?://[^/]+", "", filled).split("?", 1)[0]
        scope = {"type": "http", "path": path, "method": "GET"}
        assert any(route.matches(scope)[0] == Match.FULL for route in ROUTES), url
