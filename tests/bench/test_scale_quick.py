"""``bench/scale/bench_scale.py --quick`` still runs end to end (no timing here: bench/ owns it).

Each run starts the bench as a user would (a subprocess, its own workers and hubs) and checks
what it reports: every session connected and answered, for every variant, so a change to the
library, the drivers or the hub fixture that breaks the scale bench fails CI instead of the
next full run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "scale" / "bench_scale.py"


def _run(tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    out = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--timeout=30", f"--json={out}", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| target | variant |" in done.stdout
    results: list[dict[str, Any]] = json.loads(out.read_text())["results"]
    return results


def _all_answered(results: list[dict[str, Any]], variants: set[str]) -> None:
    assert {r["variant"] for r in results} == variants
    for result in results:
        assert "error" not in result, result
        assert result["connected"] == result["sessions"] == 20, result
        assert result["answers"] == 20, result  # --quick: one round
        assert result["rss_per_session_kib"] is not None
        assert result["cpu_per_message_ms"] > 0


def test_quick_against_the_scripted_hub(tmp_path: Path) -> None:
    results = _run(tmp_path, "--target=scripted", "--variants=ours-async,ours-threaded")
    _all_answered(results, {"ours-async", "ours-threaded"})


@pytest.mark.e2e
@pytest.mark.oracle
def test_quick_against_hub_53_with_the_reference(tmp_path: Path) -> None:
    results = _run(tmp_path, "--target=hub", "--variants=ours-async,ours-threaded,reference")
    _all_answered(results, {"ours-async", "ours-threaded", "reference"})
