"""``hivemind_bus_client.async_client``: :mod:`hivemind_client.aio` (the asyncio driver)."""

from __future__ import annotations

import asyncio
from typing import Any

from hivemind_client.aio.client import AsyncHiveMessageBusClient as _AsyncClient
from hivemind_client.api.handlers import BinaryDataCallbacks
from hivemind_client.satellite.core import ConnectionInfo
from hivemind_client.wire.message_types import HiveMessageType

from ._connect import REFERENCE_CONNECT_DOC, take_reference_arguments

__all__ = [
    "AsyncHiveMessageBusClient",
    "AsyncHiveMessageWaiter",
    "AsyncHivePayloadWaiter",
    "BinaryDataCallbacks",
]


class AsyncHiveMessageBusClient(_AsyncClient):
    """:class:`hivemind_client.aio.AsyncHiveMessageBusClient` with the reference's
    ``connect`` arguments."""

    async def connect(  # type: ignore[override]
        self,
        bus: Any = None,
        protocol: Any = None,
        site_id: str | None = None,
        handshake_max_retries: int | None = None,
        timeout: float = 15.0,
    ) -> ConnectionInfo:
        del handshake_max_retries
        take_reference_arguments(self, bus, protocol)
        return await super().connect(site_id=site_id, timeout=timeout)

    connect.__doc__ = REFERENCE_CONNECT_DOC


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
