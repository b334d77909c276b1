"""Operations of the ``frame`` and ``frame-invalid`` suites, answered by hivemind_client."""

from __future__ import annotations

from typing import Any

from hivemind_client import decode_binary, decode_frame, encode_frame
from hivemind_client.wire.message_types import HiveMessageType

from ...impl import Operations

__all__ = ["OPERATIONS"]


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


OPERATIONS: Operations = {
    "decode_frame": decode_frame_op,
    "encode_frame": encode_frame_op,
    "decode_message_frame": decode_message_frame_op,
}
