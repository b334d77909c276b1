"""``hivemind_bus_client.client``: the threaded client is :mod:`hivemind_client.sync.client`."""

from __future__ import annotations

import logging
import random
from threading import Thread
from typing import Any

from hivemind_client.api.handlers import BinaryDataCallbacks
from hivemind_client.sync.client import HiveMessageBusClient as _Client
from hivemind_client.wire.message import HiveMessage, Message
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType

from ._connect import ReferenceConnect
from .identity import NodeIdentity
from .serialization import decode_bitstring, get_bitstring

__all__ = [
    "BinaryDataCallbacks",
    "HiveMessageBusClient",
    "HiveMessageWaiter",
    "HivePayloadWaiter",
    "HiveMessage",
    "HiveMessageType",
    "Message",
    "NodeIdentity",
    "Thread",
    "decode_bitstring",
    "get_bitstring",
    "random",
]

LOG = logging.getLogger(__name__)
HiveMindBinaryPayloadType = BinaryPayloadType


class HiveMessageBusClient(ReferenceConnect, _Client):  # type: ignore[misc]
    """:class:`hivemind_client.sync.client.HiveMessageBusClient` with the reference's
    ``connect`` arguments."""


class HiveMessageWaiter:
    """Wait for one message of a type, registered on construction (the reference's helper)."""

    def __init__(self, bus: Any, message_type: HiveMessageType | str) -> None:
        import threading

        self.bus = bus
        self.msg_type = message_type
        self.received_msg: Any = None
        self._event = threading.Event()
        bus.on(message_type, self._handler)

    def _handler(self, message: Any) -> None:
        self.received_msg = message
        self._event.set()

    def wait(self, timeout: float = 3.0) -> Any:
        """The message, or None after ``timeout`` seconds."""
        self._event.wait(timeout)
        self.bus.remove(self.msg_type, self._handler)
        return self.received_msg


class HivePayloadWaiter(HiveMessageWaiter):
    """Wait for a message whose payload is a bus message of ``payload_type``."""

    def __init__(
        self, bus: Any, payload_type: str, message_type: HiveMessageType | str = HiveMessageType.BUS
    ) -> None:
        self.payload_type = payload_type
        super().__init__(bus, message_type)

    def _handler(self, message: Any) -> None:
        payload = getattr(message, "payload", None)
        if getattr(payload, "msg_type", None) == self.payload_type:
            super()._handler(message)
