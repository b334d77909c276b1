"""Suites and implementations are found by name; a missing module is an error, never a skip.

Each case runs in a fresh interpreter in which one module is made unimportable
(``sys.modules[name] = None`` makes ``import name`` raise ModuleNotFoundError, exactly as a
deleted file would), so the test does not disturb the modules this process already holds.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance.implementations.ours import OPERATIONS
from conformance.suites import SUITES

ROOT = Path(__file__).resolve().parents[2]
FRAME_VECTORS = ROOT / "conformance" / "vectors" / "frame.json"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "missing",
    [
        "conformance.suites.noise",
        "conformance.suites.security",
        "conformance.implementations.ours.noise",
        "conformance.implementations.ours.messages",
    ],
)
def test_a_missing_module_fails_the_run(missing: str) -> None:
    # Before the fix the loader swallowed ModuleNotFoundError for a missing suite or
    # implementation module and the run went on with fewer suites (or operations): green.
    result = _python(
        f"""
        import sys
        sys.modules[{missing!r}] = None
        from conformance.__main__ import main
        raise SystemExit(main(["run", {str(FRAME_VECTORS)!r}]))
        """
    )
    assert result.returncode != 0, result.stdout[-1000:]
    assert missing.rsplit(".", 1)[1] in result.stderr
    assert "passed, 0 failed" not in result.stdout


def test_every_suite_and_operation_module_is_loaded() -> None:
    assert {"frame", "frame-invalid", "message-json", "noise", "cipher-json"} <= set(SUITES)
    assert {"decode_frame", "decode_message_json", "encode_text"} <= set(OPERATIONS)
    assert any(op.startswith("noise") for op in OPERATIONS)
