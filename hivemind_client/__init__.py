"""hivemind-client: a schema-first client library for the HiveMind mesh.

Layers, bottom up (each imports only those below it; ``lint-imports`` checks):
``errors`` (one hierarchy), ``wire`` (frames, messages, codec, validation), ``security``
(encodings, AEAD, handshakes, INTERCOM, Noise), ``core`` (the sans-I/O session, events,
requests, reconnect decisions), ``satellite`` (routing, CASCADE, hive map, the satellite core),
``identity`` (files and key stores), ``api`` (what every driver shares), ``sync`` (the threaded
websocket driver), ``cli``. This package re-exports the wire layer and the errors; the client
classes load on first use (``from hivemind_client import HiveMessageBusClient``), so
``import hivemind_client`` stays cheap.

The library logs through ``logging.getLogger(__name__)`` in each module, under the
``hivemind_client`` logger, which has a ``NullHandler``: with no logging configured, nothing
is printed (errors reach the caller as exceptions); configure ``logging`` to see the records.
"""

import logging
from typing import TYPE_CHECKING, Any

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
    InvalidFrameJSON,
    InvalidJSON,
    InvalidKeySize,
    InvalidPayload,
    LocalError,
    MetadataTooLarge,
    NotConnected,
    PayloadTooLarge,
    QueueFull,
    RemoteError,
    RendezvousError,
    TooManyPendingAggregations,
    TooManyWaiters,
    TruncatedFrame,
    UnknownCipher,
    UnknownMessageType,
    UnsupportedVersion,
    WrongArgumentType,
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


_LAZY = {
    "HiveMessageBusClient": "hivemind_client.sync.client",
    "AsyncHiveMessageBusClient": "hivemind_client.aio.client",
    "HiveMindHTTPClient": "hivemind_client.http.client",
    "BinaryDataCallbacks": "hivemind_client.api.handlers",
    "LocalBus": "hivemind_client.api.handlers",
    "ConnectionInfo": "hivemind_client.satellite.core",
    "ReconnectPolicy": "hivemind_client.core.reconnect",
    "NodeIdentity": "hivemind_client.identity",
}
"""Names that load their layer on first use: the client pulls in sockets and threads."""


def __getattr__(name: str) -> Any:
    # ``__version__`` is read from the installed metadata on first use: importing
    # importlib.metadata costs milliseconds that ``import hivemind_client`` should not pay.
    if name == "__version__":
        globals()[name] = version = _installed_version()  # later reads skip __getattr__
        return version
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from hivemind_client.aio.client import AsyncHiveMessageBusClient
    from hivemind_client.api.handlers import BinaryDataCallbacks, LocalBus
    from hivemind_client.core.reconnect import ReconnectPolicy
    from hivemind_client.http.client import HiveMindHTTPClient
    from hivemind_client.identity import NodeIdentity
    from hivemind_client.satellite.core import ConnectionInfo
    from hivemind_client.sync.client import HiveMessageBusClient


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
    "AsyncHiveMessageBusClient",
    "BinaryDataCallbacks",
    "ConnectionInfo",
    "HiveMessageBusClient",
    "HiveMindHTTPClient",
    "LocalBus",
    "NodeIdentity",
    "ReconnectPolicy",
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
    "InvalidFrameJSON",
    "InvalidJSON",
    "InvalidKeySize",
    "InvalidPayload",
    "LocalError",
    "MetadataTooLarge",
    "NotConnected",
    "PayloadTooLarge",
    "RemoteError",
    "RendezvousError",
    "TruncatedFrame",
    "UnknownCipher",
    "UnknownMessageType",
    "UnsupportedVersion",
    "WrongArgumentType",
    "error_codes",
]
