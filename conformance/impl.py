"""What the runner tests: an implementation driven by named operations.

An operation takes a JSON object of inputs and returns a JSON object of outputs, or fails with
one of the stable error codes. Our library is one implementation (``ours``); any other language
plugs in as a process speaking newline-delimited JSON (see ``adapter.py`` and the README).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = [
    "Implementation",
    "OperationFailed",
    "Operations",
    "Unsupported",
    "VectorFailed",
    "expect_error",
]

Operations = Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]


class OperationFailed(Exception):
    """The implementation reported an error code for an operation."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class Unsupported(Exception):
    """The implementation does not provide an operation a suite needs."""


class VectorFailed(Exception):
    """A vector's expectation does not hold; the message says why."""


class Implementation(Protocol):
    """Anything the runner can drive."""

    name: str

    def call(self, operation: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run one operation; raise OperationFailed or Unsupported."""
        ...

    def close(self) -> None:
        """Release whatever the implementation holds (processes, files)."""
        ...


def expect_error(impl: Implementation, operation: str, inputs: dict[str, Any], code: str) -> None:
    """Run an operation that must fail with ``code``."""
    try:
        outputs = impl.call(operation, inputs)
    except OperationFailed as failure:
        if failure.code != code:
            raise VectorFailed(f"{operation} failed with {failure.code}, expected {code}") from None
        return
    raise VectorFailed(f"{operation} succeeded ({_brief(outputs)}), expected error {code}")


def _brief(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
