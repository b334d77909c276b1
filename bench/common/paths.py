"""Where things are, for every bench script (stdlib only: reference interpreters import it too).

Each script under bench/ first puts the repository root on ``sys.path`` with one line,

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/<group>/x.py

and then imports ``bench.common.*`` and its neighbours by their package path; scripts it starts
as another process it names by their file under ``BENCH``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
VENVS = ROOT / ".venvs"
