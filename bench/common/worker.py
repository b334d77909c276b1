"""Helpers to run code under another interpreter (the references' isolated venvs)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.common.paths import ROOT


def oracle_python(name: str) -> str:
    """The interpreter of oracle venv ``name`` (built by scripts/oracles.py on first use)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "oracles.py"), "ensure", name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


class LineWorker:
    """A long-lived subprocess answering one JSON line per JSON request line."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def call(self, request: object) -> Any:
        """Send one request, return the decoded answer."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self._process.args!r} stopped")
        return json.loads(line)

    def close(self) -> None:
        """Close its stdin (it exits) and reap it."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=60)

    def __enter__(self) -> LineWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
