"""``hivemind_bus_client.message``: the message model is the library's own."""

from hivemind_client.errors import InvalidPayload
from hivemind_client.wire.message import WRAPPER_TYPES, HiveMessage, Message
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType

__all__ = [
    "HiveMessage",
    "HiveMessageType",
    "HiveMindBinaryPayloadType",
    "MalformedWirePayload",
    "Message",
]

HiveMindBinaryPayloadType = BinaryPayloadType
MalformedWirePayload = InvalidPayload
_ROUTING_TYPES = frozenset(WRAPPER_TYPES | {t.value for t in WRAPPER_TYPES})
