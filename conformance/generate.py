"""python -m conformance generate: rebuild conformance/vectors/ from the generators.

Each script in conformance/generators/ names, in a ``# oracle: NAME`` line, the interpreter it
runs under: an oracle environment built by scripts/oracles.py (``ref-0.7``, ...) or
``project`` (this project's interpreter, for vectors derived from our schemas). A generator
writes its files into the directory given as its one argument and must be deterministic.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["generate_all", "generators"]

HERE = Path(__file__).resolve().parent
_ORACLE = re.compile(r"^# oracle: ([\w.-]+)$", re.MULTILINE)


def generators() -> dict[Path, str]:
    """Every generator script and the environment it runs in."""
    found = {}
    for path in sorted((HERE / "generators").glob("[!_]*.py")):  # _*.py: shared helpers
        match = _ORACLE.search(path.read_text())
        if match is None:
            raise SystemExit(f"{path}: no '# oracle: NAME' line")
        found[path] = match.group(1)
    return found


def generate_all(out: Path) -> int:
    """Run every generator into a scratch directory, then replace what it produced in ``out``."""
    from .__main__ import oracle_python
    from .shipped import KitError

    found = generators()
    if not found:
        raise KitError(
            f"no generator scripts in {HERE / 'generators'} (a source checkout has them)"
        )
    out.mkdir(parents=True, exist_ok=True)
    for script, environment in found.items():
        python = sys.executable if environment == "project" else oracle_python(environment)
        with tempfile.TemporaryDirectory() as scratch:
            print(f"[generate] {script.name} under {environment}", flush=True)
            subprocess.run([python, str(script), scratch], check=True)
            for produced in sorted(Path(scratch).glob("*.json")):
                shutil.copyfile(produced, out / produced.name)
                print(f"[generate]   {produced.name}")
    return 0
