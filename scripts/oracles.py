"""Create the isolated virtual environments of the test oracles (reference clients, real hubs).

Usage: python scripts/oracles.py ensure NAME [NAME...]   (names: the *.txt files in scripts/oracles/)
       python scripts/oracles.py path NAME               (print the environment's python)

Each environment lives in .venvs/NAME and is rebuilt when its requirements file changes, or
when it was built somewhere else and moved here (its console scripts would still name the old
interpreter path, so ``hivemind-core`` and the like would not start). The library never imports
these packages: they run in their own interpreters, as oracles only.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "scripts" / "oracles"
VENVS = ROOT / ".venvs"


def names() -> list[str]:
    return sorted(p.stem for p in SPECS.glob("*.txt"))


def python_of(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def built_here(home: Path) -> bool:
    """Whether the environment's scripts name its own interpreter (pip's shebang says where
    the environment was created)."""
    try:
        first = (home / "bin" / "pip").read_bytes().split(b"\n", 1)[0]
    except OSError:
        return False
    if not first.startswith(b"#!"):
        return False
    interpreter = Path(first[2:].decode(errors="replace").strip().split(" ")[0])
    return interpreter.parent.parent.resolve() == home.resolve()


def ensure(name: str) -> Path:
    spec = SPECS / f"{name}.txt"
    if not spec.exists():
        raise SystemExit(f"unknown oracle environment {name!r}; known: {', '.join(names())}")
    digest = hashlib.sha256(spec.read_bytes()).hexdigest()
    home = VENVS / name
    stamp = home / ".requirements-sha256"
    fresh = stamp.exists() and stamp.read_text() == digest and python_of(name).exists()
    if fresh and built_here(home):
        return python_of(name)
    print(f"[oracles] building {home} from {spec.name}", file=sys.stderr, flush=True)
    venv.EnvBuilder(clear=True, with_pip=True).create(home)
    pip = [str(python_of(name)), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip", "setuptools<70", "wheel"], check=True)
    subprocess.run([*pip, "install", "-r", str(spec)], check=True)
    stamp.write_text(digest)
    return python_of(name)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "ensure":
        for name in argv[1:]:
            print(ensure(name))
        return 0
    if len(argv) == 2 and argv[0] == "path":
        print(python_of(argv[1]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
