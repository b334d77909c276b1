"""The message type and binary subtype enumerations of the HiveMind protocol."""

from __future__ import annotations

from enum import Enum, IntEnum

__all__ = ["BinaryPayloadType", "HiveMessageType"]


class HiveMessageType(str, Enum):
    """Message types, valued by their wire strings (``msg_type`` in JSON)."""

    HANDSHAKE = "shake"
    BUS = "bus"
    SHARED_BUS = "shared_bus"
    BROADCAST = "broadcast"
    PROPAGATE = "propagate"
    ESCALATE = "escalate"
    HELLO = "hello"
    QUERY = "query"
    CASCADE = "cascade"
    PING = "ping"
    RENDEZVOUS = "rendezvous"
    THIRDPRTY = "3rdparty"
    BINARY = "bin"
    INTERCOM = "intercom"

    def __str__(self) -> str:
        return self.value


class BinaryPayloadType(IntEnum):
    """The 4-bit subtype of BINARY frames: how to read the raw payload."""

    UNDEFINED = 0
    RAW_AUDIO = 1
    NUMPY_IMAGE = 2
    FILE = 3
    STT_AUDIO_TRANSCRIBE = 4
    STT_AUDIO_HANDLE = 5
    TTS_AUDIO = 6
