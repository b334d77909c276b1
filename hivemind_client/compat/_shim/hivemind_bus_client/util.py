"""``hivemind_bus_client.util``: conversions between message forms, through the wire layer."""

from __future__ import annotations

import warnings
from typing import Any

from hivemind_client.errors import InvalidArgument, InvalidEncoding
from hivemind_client.wire.frame import deflate, inflate
from hivemind_client.wire.message import (
    HiveMessage,
    MessageLike,
    as_ovos_dict,
    encode_utf8_json,
    parse_json_object,
)
from hivemind_client.wire.message_types import HiveMessageType

from . import encryption
from .encryption import SupportedCiphers, SupportedEncodings

__all__ = [
    "bytes2str",
    "cast2bytes",
    "compress_payload",
    "decompress_payload",
    "decrypt_bin",
    "decrypt_from_json",
    "encrypt_as_json",
    "encrypt_bin",
    "get_hivemsg",
    "get_mycroft_msg",
    "get_payload",
    "payload2dict",
    "serialize_message",
]


def serialize_message(message: Any) -> str:
    """JSON text of a HiveMessage, a bus message or a dict (nested messages serialized)."""
    if hasattr(message, "serialize"):
        return str(message.serialize())
    if isinstance(message, dict):
        return encode_utf8_json(
            {k: serialize_message(v) if hasattr(v, "serialize") else v for k, v in message.items()}
        )
    return encode_utf8_json(vars(message))


def payload2dict(payload: Any) -> dict[str, Any]:
    """A plain JSON dict of a message, JSON text or dict, nested messages converted."""
    if isinstance(payload, HiveMessage):
        payload = payload.as_dict
    elif isinstance(payload, MessageLike):
        payload = as_ovos_dict(payload)
    elif isinstance(payload, str | bytes):
        payload = parse_json_object(payload, "payload")
    if not isinstance(payload, dict):
        raise InvalidArgument(f"cannot make a dict of a {type(payload).__name__}")
    for key, value in payload.items():
        if isinstance(value, HiveMessage | dict | MessageLike):
            payload[key] = payload2dict(value)
        elif isinstance(value, list):
            payload[key] = [
                payload2dict(item) if isinstance(item, HiveMessage | dict | MessageLike) else item
                for item in value
            ]
    return payload


def get_payload(msg: Any) -> Any:
    """The payload of a HiveMessage as a dict (a bus message as its wire dict)."""
    if isinstance(msg, HiveMessage):
        msg = msg.payload
    if isinstance(msg, MessageLike):
        return as_ovos_dict(msg)
    if isinstance(msg, str | bytes):
        return parse_json_object(msg, "payload")
    return msg


def get_hivemsg(msg: Any) -> HiveMessage:
    """A HiveMessage from JSON text, an envelope dict or a bus message (wrapped in BUS)."""
    if isinstance(msg, str | bytes):
        msg = parse_json_object(msg)
    if isinstance(msg, dict):
        return HiveMessage.from_wire(msg)
    if isinstance(msg, HiveMessage):
        return msg
    if isinstance(msg, MessageLike):
        return HiveMessage(HiveMessageType.BUS, msg)
    raise InvalidArgument(f"not a message: {type(msg).__name__}")


def get_mycroft_msg(pload: Any) -> Any:
    """The bus message of a BUS HiveMessage, JSON text or dict."""
    if isinstance(pload, HiveMessage):
        if pload.msg_type != HiveMessageType.BUS:
            raise InvalidArgument(f"a {pload.msg_type.value} message carries no bus message")
        return pload.payload
    if isinstance(pload, str | bytes):
        pload = parse_json_object(pload, "bus message")
    if isinstance(pload, dict):  # the library's view: an OVOS Message when OVOS is installed
        bus = {
            "type": pload.get("msg_type") or pload.get("type"),
            "data": pload.get("data") or {},
            "context": pload.get("context") or {},
        }
        return HiveMessage(HiveMessageType.BUS, bus).payload
    if isinstance(pload, MessageLike):
        return pload
    raise InvalidArgument(f"not a bus message: {type(pload).__name__}")


def compress_payload(text: str | bytes) -> bytes:
    """zlib of the text (UTF-8) or bytes."""
    return deflate(text.encode("utf-8") if isinstance(text, str) else text)


def decompress_payload(compressed: bytes) -> bytes:
    """Inflate zlib data (bounded, as every frame field the library inflates)."""
    return inflate(compressed)


def cast2bytes(payload: dict[str, Any] | str, compressed: bool = False) -> bytes:
    """The bytes of a dict (as JSON) or text, zlib-compressed when asked."""
    text = encode_utf8_json(payload) if isinstance(payload, dict) else payload
    data = text.encode("utf-8") if isinstance(text, str) else text
    return compress_payload(data) if compressed else data


def bytes2str(payload: bytes, compressed: bool = False) -> str:
    """The text of bytes made by :func:`cast2bytes`."""
    return (decompress_payload(payload) if compressed else payload).decode("utf-8")


# -- the old AES-GCM helpers of this module: deprecated, they lead to .encryption -------------------
def _moved(name: str) -> None:
    warnings.warn(
        f"hivemind_bus_client.util.{name} is deprecated: "
        f"import {name} from hivemind_bus_client.encryption",
        DeprecationWarning,
        stacklevel=3,
    )


def encrypt_as_json(key: str | bytes, data: Any, b64: bool = False) -> str:
    """Deprecated: ``encryption.encrypt_as_json`` under AES-GCM (base64 with ``b64=True``)."""
    _moved("encrypt_as_json")
    encoding = SupportedEncodings.JSON_B64 if b64 else SupportedEncodings.JSON_HEX
    return encryption.encrypt_as_json(key, data, SupportedCiphers.AES_GCM, encoding)


def decrypt_from_json(key: str | bytes, data: str | bytes) -> str:
    """Deprecated: ``encryption.decrypt_from_json`` under AES-GCM, hex or base64 fields."""
    _moved("decrypt_from_json")
    try:
        return encryption.decrypt_from_json(
            key, data, SupportedCiphers.AES_GCM, SupportedEncodings.JSON_HEX
        )
    except InvalidEncoding:  # the fields are not hex: the other spelling encrypt_as_json writes
        return encryption.decrypt_from_json(
            key, data, SupportedCiphers.AES_GCM, SupportedEncodings.JSON_B64
        )


def encrypt_bin(key: str | bytes, data: str | bytes) -> bytes:
    """Deprecated: ``encryption.encrypt_bin`` under AES-GCM."""
    _moved("encrypt_bin")
    return encryption.encrypt_bin(key, data, SupportedCiphers.AES_GCM)


def decrypt_bin(key: str | bytes, ciphertext: bytes) -> bytes:
    """Deprecated: ``encryption.decrypt_bin`` under AES-GCM."""
    _moved("decrypt_bin")
    return encryption.decrypt_bin(key, ciphertext, SupportedCiphers.AES_GCM)
