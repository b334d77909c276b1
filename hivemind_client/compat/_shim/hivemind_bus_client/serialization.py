"""``hivemind_bus_client.serialization``: binary frames through :mod:`hivemind_client.wire.codec`.

``get_bitstring`` returns a ``bitstring.Bits`` when the ``bitstring`` package is installed (as
the reference does), else the frame's bytes; ``decode_bitstring`` takes either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hivemind_client.errors import InvalidJSON, InvalidPayload, UnsupportedVersion
from hivemind_client.wire.codec import decode_binary, encode_binary
from hivemind_client.wire.frame import FRAME_FORMAT_VERSION, MAX_METADATA_SIZE, type_code
from hivemind_client.wire.message import (
    HiveMessage,
    Message,
    MessageLike,
    as_ovos_dict,
    parse_json_object,
)
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType

__all__ = [
    "BINARY_ENCODABLE_TYPES",
    "PROTOCOL_VERSION",
    "decode_bitstring",
    "get_bitstring",
    "mycroft2bitstring",
]

PROTOCOL_VERSION = FRAME_FORMAT_VERSION
MAX_METADATA_BYTES = MAX_METADATA_SIZE
HiveMindBinaryPayloadType = BinaryPayloadType  # the reference defines it here (hivemind-mic-satellite imports it from here)


def _codes() -> dict[HiveMessageType, int]:
    codes = {}
    for msg_type in HiveMessageType:
        try:
            codes[msg_type] = type_code(msg_type)
        except ValueError:
            continue  # INTERCOM has no binary type code
    return codes


_TYPE2INT = _codes()
_INT2TYPE = {code: msg_type for msg_type, code in _TYPE2INT.items()}
BINARY_ENCODABLE_TYPES = frozenset(_TYPE2INT)


def _as_bits(frame: bytes) -> Any:
    try:
        from bitstring import Bits  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return frame
    return Bits(frame)


def get_bitstring(
    hive_type: HiveMessageType | str = HiveMessageType.BUS,
    payload: Any = None,
    compressed: bool | None = None,
    hivemeta: dict[str, Any] | None = None,
    binary_type: BinaryPayloadType | int = BinaryPayloadType.UNDEFINED,
    proto_version: int = PROTOCOL_VERSION,
    versioned: bool = False,
) -> Any:
    """The binary frame of one message (see :func:`hivemind_client.wire.codec.encode_binary`)."""
    if proto_version > PROTOCOL_VERSION:
        raise UnsupportedVersion(f"Max Supported Version: {PROTOCOL_VERSION}")
    if (
        isinstance(payload, HiveMessage)
        and HiveMessageType(hive_type) not in (HiveMessageType.BINARY,)
        and payload.msg_type == HiveMessageType(hive_type)
    ):
        message = payload
        if hivemeta:
            message = payload.forward(metadata=dict(hivemeta))
    else:
        message = HiveMessage(
            hive_type,
            _payload_argument(HiveMessageType(hive_type), payload),
            bin_type=binary_type,
            metadata=hivemeta or {},
        )
    return _as_bits(encode_binary(message, compress=compressed, versioned=versioned))


def _payload_argument(hive_type: HiveMessageType, payload: Any) -> Any:
    """The payload shapes the reference's ``get_bitstring`` takes, as the library's constructor
    takes them: JSON object text is parsed, a ``bitstring`` value becomes its bytes; any other
    shape is ``MalformedWirePayload`` (our InvalidPayload), as there."""
    if hive_type is HiveMessageType.BINARY:
        if payload is None:
            return b""
        if isinstance(payload, bytes | bytearray | memoryview):
            return payload
        if hasattr(payload, "tobytes"):  # a bitstring Bits or BitArray
            return payload.tobytes()
        raise InvalidPayload(
            f"a BINARY payload must be an opaque byte string, not {type(payload).__name__}"
        )
    if payload is None or isinstance(payload, Mapping | HiveMessage | MessageLike):
        return payload
    if isinstance(payload, str | bytes):
        try:
            return parse_json_object(payload, f"{hive_type.value} payload")
        except InvalidJSON as exc:
            raise InvalidPayload(str(exc)) from None
    raise InvalidPayload(
        f"{hive_type.value} payload must be a JSON object, not {type(payload).__name__}"
    )


def decode_bitstring(bitstr: Any) -> HiveMessage:
    """Decode one binary frame (``bytes`` or ``bitstring.Bits``)."""
    data = bitstr if isinstance(bitstr, bytes | bytearray) else getattr(bitstr, "bytes", bitstr)
    return decode_binary(bytes(data))


def mycroft2bitstring(msg: Any, compressed: bool = False) -> Any:
    """The BUS frame of an OVOS message, its context as the frame's metadata."""
    if isinstance(msg, str | bytes):
        msg = Message.deserialize(msg)
    return get_bitstring(
        HiveMessageType.BUS,
        payload=as_ovos_dict(msg),
        hivemeta=dict(as_ovos_dict(msg)["context"]),
        compressed=compressed,
    )
