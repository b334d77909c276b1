"""The ``ours`` implementation: conformance operations answered by hivemind_client.

One module per suite family, named like the suite modules in ``conformance/suites/``:
``frame`` (frame, frame-invalid), ``security`` (text-encoding, cipher-*, intercom,
*-handshake), ``messages`` (message-json), ``noise`` (noise, noise-chunked). Each is imported
explicitly: a missing one is an import error, never a silently smaller implementation.
"""

from __future__ import annotations

from typing import Any

from hivemind_client import HiveMindError

from ...impl import OperationFailed, Operations, Unsupported
from . import frame, messages, noise, security

__all__ = ["OPERATIONS", "OurImplementation", "serve_ours"]


def _operations() -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for module in (frame, security, messages, noise):
        clash = set(ops) & set(module.OPERATIONS)
        if clash:
            raise ImportError(f"{module.__name__} redefines operations {sorted(clash)}")
        ops.update(module.OPERATIONS)
    return ops


OPERATIONS: Operations = _operations()


class OurImplementation:
    """Runs operations in-process against hivemind_client."""

    name = "ours"

    def call(self, operation: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run one operation; HiveMindError becomes OperationFailed with its code."""
        function = OPERATIONS.get(operation)
        if function is None:
            raise Unsupported(operation)
        try:
            return function(inputs)
        except HiveMindError as exc:
            raise OperationFailed(exc.code, str(exc)) from None

    def close(self) -> None:
        """Nothing to release."""


def serve_ours() -> None:
    """Answer the adapter protocol on stdin/stdout with our library."""
    from hivemind_client import __version__

    from ...adapter import serve

    def error_code(error: BaseException) -> str | None:
        return error.code if isinstance(error, HiveMindError) else None

    serve(f"hivemind-client {__version__}", dict(OPERATIONS), error_code)
