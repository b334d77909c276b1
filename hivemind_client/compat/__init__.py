"""Run code written for ``hivemind_bus_client`` on this library, by explicit opt-in.

:func:`install` makes ``import hivemind_bus_client`` (and its submodules ``.client``,
``.message``, ``.serialization``, ``.encryption``, ...) resolve to thin modules of ours that
give the reference's names to this library's classes and functions; none of them holds wire or
crypto logic of its own. ``python -m hivemind_client.compat TARGET [ARGS]`` installs it and runs
a console script or a module (``python -m hivemind_client.compat hivemind-mic-sat``).

A real ``hivemind_bus_client`` that is installed always wins, unless ``install(force=True)``:
the mapping is a fallback on ``sys.meta_path``, never a silent replacement.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["MODULE_MAP", "PACKAGE", "install", "installed", "uninstall"]

PACKAGE = "hivemind_bus_client"
"""The import name the compatibility modules answer to."""

_SHIM_DIR = Path(__file__).resolve().parent / "_shim"

MODULE_MAP: dict[str, str] = {
    "hivemind_bus_client": "hivemind_client (HiveMessageBusClient, HiveMessage, HiveMessageType)",
    "hivemind_bus_client.client": "hivemind_client.sync.client, hivemind_client.api",
    "hivemind_bus_client.async_client": "hivemind_client.aio (when installed)",
    "hivemind_bus_client.http_client": "hivemind_client.http (when installed)",
    "hivemind_bus_client.message": "hivemind_client.wire.message, hivemind_client.wire.message_types",
    "hivemind_bus_client.serialization": "hivemind_client.wire.codec, hivemind_client.wire.frame",
    "hivemind_bus_client.encryption": "hivemind_client.security.aead, .encodings, .intercom",
    "hivemind_bus_client.util": "hivemind_client.wire, hivemind_client.security.aead",
    "hivemind_bus_client.exceptions": "hivemind_client.errors",
    "hivemind_bus_client.identity": "hivemind_client.identity",
    "hivemind_bus_client.decorators": "hivemind_client.api.handlers",
    "hivemind_bus_client.hive_map": "hivemind_client.satellite.hivemap",
    "hivemind_bus_client.fakebus": "hivemind_client.api.handlers (an in-process hive bus)",
    "hivemind_bus_client.noise": "hivemind_client.security.hivemind_noise",
    "hivemind_bus_client.protocol": "hivemind_client.satellite (names only)",
    "hivemind_bus_client.scripts": "hivemind_client.cli",
    "hivemind_bus_client.version": "hivemind_client.__version__",
}
"""Each reference module and the part of this library it maps onto (documentation, and the
list ``docs/compat.md`` shows)."""


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the top-level ``hivemind_bus_client`` in the shim directory; its submodules then
    resolve through the package's ``__path__`` as for any package."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PACKAGE:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [str(_SHIM_DIR)])


_FINDER = _Finder()


def _real_package_available() -> bool:
    """Whether an import would find a ``hivemind_bus_client`` other than ours."""
    loaded = sys.modules.get(PACKAGE)
    if loaded is not None:
        return not _is_ours(loaded)
    return importlib.machinery.PathFinder.find_spec(PACKAGE) is not None


def _is_ours(module: ModuleType) -> bool:
    origin = getattr(module, "__file__", None) or ""
    return Path(origin).resolve().is_relative_to(_SHIM_DIR)


def installed() -> bool:
    """Whether ``import hivemind_bus_client`` currently gives the compatibility modules."""
    if _FINDER not in sys.meta_path:
        return False
    loaded = sys.modules.get(PACKAGE)
    if loaded is not None:
        return _is_ours(loaded)
    return sys.meta_path[0] is _FINDER or not _real_package_available()


def install(force: bool = False) -> bool:
    """Make ``import hivemind_bus_client`` resolve to this library's compatibility modules.

    Returns True when they are in effect. With a real ``hivemind_bus_client`` installed it
    changes nothing and returns False, unless ``force=True``: then ours go first on the import
    path, and modules of the real package that were already imported are dropped from
    ``sys.modules`` (objects made from them stay what they are).
    """
    if force:
        uninstall()
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        sys.meta_path.insert(0, _FINDER)
        return True
    if _real_package_available():
        return False
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)
    return True


def uninstall() -> None:
    """Undo :func:`install` for later imports (modules already imported stay imported)."""
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        if _is_ours(sys.modules[name]):
            del sys.modules[name]
