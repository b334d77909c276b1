"""Suite checkers: one function per suite, written only in terms of operations."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..impl import Implementation

__all__ = ["SUITES", "Checker"]

Checker = Callable[[dict[str, Any], Implementation], None]


def _collect() -> dict[str, Checker]:
    suites: dict[str, Checker] = {}
    for module in ("frame", "security", "messages", "noise"):
        try:
            found = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise
            continue
        suites.update(found.SUITES)
    return suites


SUITES: dict[str, Checker] = _collect()
