"""hivemind-client: a schema-first client library for the HiveMind mesh.

Layers, bottom up: ``frame`` (binary frames <-> bytes), ``message`` and ``codec`` (HiveMessage
<-> JSON text and binary frames, validated against ``schema/``), ``errors`` (one hierarchy).
"""

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

__version__ = "0.1.0"

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
