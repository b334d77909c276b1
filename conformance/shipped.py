"""Where the kit's files are: package data installed with it, and the source checkout, if any.

The vectors, the known deviations, the format spec and the adapters ship inside the package
(``pip install hivemind-client`` is enough to run them). Regenerating the vectors and building
the reference's venvs (``scripts/oracles.py``) need a source checkout of hivemind-client.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["PACKAGE", "PATHS", "KitError", "need_checkout", "shipped", "source_checkout"]

PACKAGE = __package__ or "hivemind_conformance"
HERE = Path(__file__).resolve().parent

#: ``hivemind-conformance path NAME`` -> where NAME is inside the package.
PATHS = {
    "vectors": "vectors",
    "deviations": "deviations",
    "spec": "conformance.md",
    "schema": "schema",
    "js-adapter": "adapters/js/hivemind-frame-adapter.js",
    "reference-adapter": "adapters/reference.py",
}


class KitError(Exception):
    """Something the kit cannot do here; the message is one line for the user."""


def shipped(name: str) -> Path:
    """The installed path of one of the kit's files (``PATHS``)."""
    relative = PATHS[name]
    path = Path(str(resources.files(PACKAGE).joinpath(*relative.split("/"))))
    if not path.exists():
        raise KitError(f"{relative} is missing from the installed {PACKAGE} package ({path})")
    return path


def source_checkout() -> Path | None:
    """The root of the hivemind-client source tree this package runs from, or None."""
    root = HERE.parent
    if (root / "scripts" / "oracles.py").is_file() and (HERE / "generators").is_dir():
        return root
    return None


def need_checkout(message: str) -> Path:
    """The source checkout, or a KitError with ``message`` (which says why one is needed)."""
    root = source_checkout()
    if root is None:
        raise KitError(message)
    return root
