"""What Python 3.10 lacks and the library uses: ``enum.StrEnum`` (3.11)."""

from __future__ import annotations

import sys
from enum import Enum

__all__ = ["StrEnum"]

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:

    class StrEnum(str, Enum):
        """``enum.StrEnum`` for 3.10: members are strings, and ``str()``/``format()`` give
        the value (a plain ``(str, Enum)`` would give ``Cls.NAME`` from ``str()``)."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, format_spec: str) -> str:
            return str(self.value).__format__(format_spec)
