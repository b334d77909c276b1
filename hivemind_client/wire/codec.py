"""HiveMessage <-> wire: JSON text frames and binary frames.

Text written here matches the reference client byte for byte: the envelope keeps UTF-8
(``ensure_ascii=False``); inside binary frames, metadata and plain-object payloads are ASCII
JSON (``json.dumps`` defaults), bus messages and nested envelopes keep UTF-8.
Everything decoded is validated against ``schema/hive_message.schema.json``.
"""

from __future__ import annotations

from typing import Any

from hivemind_client.errors import InvalidArgument, InvalidFrameJSON
from hivemind_client.wire.frame import DEFAULT_MAX_INFLATED_SIZE, decode_frame, encode_frame
from hivemind_client.wire.message import (
    DEFAULT_MAX_DECODED_ITEMS,
    WRAPPER_TYPES,
    HiveMessage,
    decode_json,
    encode_utf8_json,
    json_encoder,
    message_from_dict,
    parse_json_object,
)
from hivemind_client.wire.message_types import HiveMessageType
from hivemind_client.wire.validation import validate_payload

__all__ = [
    "DEFAULT_MAX_DECODED_ITEMS",
    "decode_binary",
    "decode_json",
    "encode_binary",
    "encode_json",
    "message_from_dict",
]

_BUS_TYPES = frozenset({HiveMessageType.BUS, HiveMessageType.SHARED_BUS})
_encode_ascii_json = json_encoder(ensure_ascii=True)


def _metadata_bytes(metadata: dict[str, Any]) -> bytes:
    return _encode_ascii_json(metadata).encode() if metadata else b"{}"


def _metadata_object(text: bytes) -> dict[str, Any]:
    if not text or text == b"{}":
        return {}
    return parse_json_object(text, "frame metadata", json_error=InvalidFrameJSON)


def encode_json(message: HiveMessage) -> str:
    """The JSON text frame of a message."""
    return _check_message(message).serialize()


def encode_binary(
    message: HiveMessage, *, compress: bool | None = None, versioned: bool = False
) -> bytes:
    """The binary frame of a message (routing fields do not travel in binary frames).

    ``compress=None`` picks the shorter frame; INTERCOM has no type code and raises
    UnknownMessageType (send it as JSON text).
    """
    msg_type = _check_message(message).msg_type
    metadata = _metadata_bytes(message.metadata)
    raw = message.raw_payload
    if isinstance(raw, bytes):
        return encode_frame(
            msg_type,
            metadata,
            raw,
            compressed=compress,
            versioned=versioned,
            bin_type=int(message.bin_type),
        )
    if msg_type in _BUS_TYPES:
        text = encode_utf8_json(
            {
                "type": raw.get("type"),
                "data": raw.get("data") or {},
                "context": raw.get("context") or {},
            }
        )
    elif msg_type in WRAPPER_TYPES:
        text = HiveMessage.from_dict(raw).serialize()
    else:
        text = _encode_ascii_json(raw)
    try:
        body = text.encode()
    except UnicodeEncodeError:  # a lone surrogate (valid in a JSON escape, not in UTF-8)
        raise InvalidArgument("the message text is not encodable as UTF-8") from None
    return encode_frame(msg_type, metadata, body, compressed=compress, versioned=versioned)


def decode_binary(
    data: bytes,
    *,
    max_inflated_size: int = DEFAULT_MAX_INFLATED_SIZE,
    max_decoded_items: int = DEFAULT_MAX_DECODED_ITEMS,
) -> HiveMessage:
    """Decode and validate one binary frame into a message.

    ``max_inflated_size`` bounds the bytes a compressed field inflates to, ``max_decoded_items``
    the JSON values the payload may hold (both PayloadTooLarge): together they bound memory.
    """
    frame = decode_frame(data, max_inflated_size=max_inflated_size)
    msg_type = frame.msg_type
    metadata = _metadata_object(frame.metadata)
    if msg_type is HiveMessageType.BINARY:
        validate_payload(msg_type, "metadata", metadata)
        return HiveMessage._trusted(msg_type, frame.payload, metadata, frame.bin_type)
    payload = parse_json_object(
        frame.payload, "frame payload", max_items=max_decoded_items, json_error=InvalidFrameJSON
    )
    validate_payload(msg_type, "payload", payload)
    # Wrapping types: the nested envelope carries the route the binary frame itself cannot.
    return HiveMessage._trusted(msg_type, payload, metadata)


def _check_message(message: object) -> HiveMessage:
    if not isinstance(message, HiveMessage):
        raise InvalidArgument(f"expected a HiveMessage, got {type(message).__name__}")
    if message.msg_type in WRAPPER_TYPES and not message.raw_payload:
        # decode tolerates a wrapper without payload; a wrapper written with an empty one is refused
        raise InvalidArgument(f"a {message.msg_type.value} message that wraps nothing is not sent")
    return message
