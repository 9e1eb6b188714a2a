"""bench.removals at a small size: every operation is measured and the delistings hold."""

from __future__ import annotations

from pathlib import Path

from bench.removals import run


def test_small_run_measures_every_operation(tmp_path: Path) -> None:
    result = run(tmp_path, lines=60_000, rounds=3, rewrite=True)  # ~1 MiB: the append path
    for key in ("approve", "approve-inside", "deny", "add", "remove"):
        assert result[key]["median_ms"] > 0, key
    assert result["approve-rewrite"]["ms"] >= 0 and result["size_mib"] >= 1.0
