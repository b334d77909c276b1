"""hivemind-client: a schema-first client library for the HiveMind mesh.

Layers, bottom up: ``frame`` (binary frames <-> bytes), ``message`` and ``codec`` (HiveMessage
<-> JSON text and binary frames, validated against ``schema/``), ``errors`` (one hierarchy).

The library logs through ``logging.getLogger(__name__)`` in each module, under the
``hivemind_client`` logger, which has a ``NullHandler``: with no logging configured, nothing
is printed (errors reach the caller as exceptions); configure ``logging`` to see the records.
"""

import logging

from hivemind_client.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    CorruptCompression,
    FrameError,
    HandshakeFailed,
    HiveMindError,
    IdentityError,
    InvalidArgument,
    InvalidEncoding,
    InvalidJSON,
    InvalidKeySize,
    InvalidPayload,
    LocalError,
    MetadataTooLarge,
    NotConnected,
    PayloadTooLarge,
    QueueFull,
    RemoteError,
    TooManyPendingAggregations,
    TooManyWaiters,
    TruncatedFrame,
    UnknownCipher,
    UnknownMessageType,
    UnsupportedVersion,
    error_codes,
)
from hivemind_client.wire.codec import (
    decode_binary,
    decode_json,
    encode_binary,
    encode_json,
    message_from_dict,
)
from hivemind_client.wire.frame import (
    DEFAULT_MAX_INFLATED_SIZE,
    FRAME_FORMAT_VERSION,
    MAX_METADATA_SIZE,
    Frame,
    decode_frame,
    encode_frame,
)
from hivemind_client.wire.message import HiveMessage, Message, MessageLike
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType
from hivemind_client.wire.validation import validate_message

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> str:
    # ``__version__`` is read from the installed metadata on first use: importing
    # importlib.metadata costs milliseconds that ``import hivemind_client`` should not pay.
    if name == "__version__":
        globals()[name] = version = _installed_version()  # later reads skip __getattr__
        return version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hivemind-client")
    except PackageNotFoundError:
        return "0+unknown"


__all__ = [
    "DEFAULT_MAX_INFLATED_SIZE",
    "FRAME_FORMAT_VERSION",
    "MAX_METADATA_SIZE",
    "BinaryPayloadType",
    "Frame",
    "HiveMessage",
    "HiveMessageType",
    "Message",
    "MessageLike",
    "__version__",
    "decode_binary",
    "decode_frame",
    "decode_json",
    "encode_binary",
    "encode_frame",
    "encode_json",
    "message_from_dict",
    "validate_message",
    # the error hierarchy, as in hivemind_client.errors.__all__
    "TooManyWaiters",
    "TooManyPendingAggregations",
    "QueueFull",
    "IdentityError",
    "AuthenticationFailed",
    "ConnectionFailed",
    "CorruptCompression",
    "FrameError",
    "HandshakeFailed",
    "HiveMindError",
    "InvalidArgument",
    "InvalidEncoding",
    "InvalidJSON",
    "InvalidKeySize",
    "InvalidPayload",
    "LocalError",
    "MetadataTooLarge",
    "NotConnected",
    "PayloadTooLarge",
    "RemoteError",
    "TruncatedFrame",
    "UnknownCipher",
    "UnknownMessageType",
    "UnsupportedVersion",
    "error_codes",
]
