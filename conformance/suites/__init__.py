"""Suite checkers: one function per suite, written only in terms of operations.

Every suite module is imported explicitly: a missing or broken one is an import error that
stops the runner, never a silently shorter list of suites (a vector file of a suite that
vanished would otherwise only show up as "unknown suite").
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from ..impl import Implementation
from . import frame, messages, noise, security

__all__ = ["MODULES", "SUITES", "Checker"]

Checker = Callable[[dict[str, Any], Implementation], None]

MODULES: tuple[ModuleType, ...] = (frame, security, messages, noise)


def _collect() -> dict[str, Checker]:
    suites: dict[str, Checker] = {}
    for module in MODULES:
        clash = set(suites) & set(module.SUITES)
        if clash:
            raise ImportError(f"{module.__name__} redefines suites {sorted(clash)}")
        suites.update(module.SUITES)
    return suites


SUITES: dict[str, Checker] = _collect()
