"""The ``ours`` implementation: conformance operations answered by hivemind_client."""

from __future__ import annotations

import importlib
from typing import Any

from hivemind_client import HiveMindError, decode_binary, decode_frame, encode_frame
from hivemind_client.wire.message_types import HiveMessageType

from .impl import OperationFailed, Operations, Unsupported

__all__ = ["OPERATIONS", "OurImplementation", "serve_ours"]


def _payload_fields(msg_type: HiveMessageType, payload: bytes, bin_type: int) -> dict[str, Any]:
    if msg_type is HiveMessageType.BINARY:
        return {"payload_hex": payload.hex(), "bin_type": bin_type}
    return {"payload_json": payload.decode("utf-8", "surrogateescape")}


def decode_frame_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{frame_hex} -> the frame's type, flags, metadata text and payload."""
    frame = decode_frame(bytes.fromhex(inputs["frame_hex"]))
    return {
        "msg_type": frame.msg_type.value,
        "compressed": frame.compressed,
        "versioned": frame.versioned,
        "metadata_json": frame.metadata.decode("utf-8", "surrogateescape"),
        **_payload_fields(frame.msg_type, frame.payload, frame.bin_type),
    }


def encode_frame_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{msg_type, compressed, versioned, metadata_json, payload_json | payload_hex + bin_type} -> {frame_hex}."""
    if "payload_hex" in inputs:
        payload = bytes.fromhex(inputs["payload_hex"])
    else:
        payload = inputs["payload_json"].encode()
    frame = encode_frame(
        inputs["msg_type"],
        inputs["metadata_json"].encode(),
        payload,
        compressed=inputs["compressed"],
        versioned=inputs["versioned"],
        bin_type=inputs.get("bin_type", 0),
    )
    return {"frame_hex": frame.hex()}


def decode_message_frame_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{frame_hex} -> {msg_type}: decode all the way to a validated message."""
    message = decode_binary(bytes.fromhex(inputs["frame_hex"]))
    return {"msg_type": message.msg_type.value}


def _operations() -> dict[str, Any]:
    ops: dict[str, Any] = {
        "decode_frame": decode_frame_op,
        "encode_frame": encode_frame_op,
        "decode_message_frame": decode_message_frame_op,
    }
    for module in ("ours_security", "ours_messages", "ours_noise"):
        try:
            extra = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise
            continue
        ops.update(extra.OPERATIONS)
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

    from .adapter import serve

    def error_code(error: BaseException) -> str | None:
        return error.code if isinstance(error, HiveMindError) else None

    serve(f"hivemind-client {__version__}", dict(OPERATIONS), error_code)
