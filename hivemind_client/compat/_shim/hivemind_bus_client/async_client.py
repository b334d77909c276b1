"""``hivemind_bus_client.async_client``: :mod:`hivemind_client.aio` (the asyncio driver)."""

from __future__ import annotations

import asyncio
from typing import Any

from hivemind_client.aio.client import AsyncHiveMessageBusClient
from hivemind_client.api.handlers import BinaryDataCallbacks
from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "AsyncHiveMessageBusClient",
    "AsyncHiveMessageWaiter",
    "AsyncHivePayloadWaiter",
    "BinaryDataCallbacks",
]


class AsyncHiveMessageWaiter:
    """Wait (on an asyncio.Event) for one message of a type, registered on construction."""

    def __init__(self, bus: Any, message_type: HiveMessageType | str) -> None:
        self.bus = bus
        self.msg_type = message_type
        self.received_msg: Any = None
        self._event = asyncio.Event()
        bus.on(message_type, self._handler)

    def _handler(self, message: Any) -> None:
        self.received_msg = message
        self._event.set()

    async def wait(self, timeout: float = 3.0) -> Any:
        """The message, or None after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout=timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            self.bus.remove(self.msg_type, self._handler)
        return self.received_msg


class AsyncHivePayloadWaiter(AsyncHiveMessageWaiter):
    """Wait for a message whose payload is a bus message of ``payload_type``."""

    def __init__(
        self, bus: Any, payload_type: str, message_type: HiveMessageType | str = HiveMessageType.BUS
    ) -> None:
        super().__init__(bus, message_type)
        self.payload_type = payload_type

    def _handler(self, message: Any) -> None:
        if getattr(getattr(message, "payload", None), "msg_type", None) == self.payload_type:
            super()._handler(message)
