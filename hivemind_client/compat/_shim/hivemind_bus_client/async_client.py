"""``hivemind_bus_client.async_client``: :mod:`hivemind_client.aio` (the asyncio driver)."""

from hivemind_client.aio.client import AsyncHiveMessageBusClient
from hivemind_client.api.handlers import BinaryDataCallbacks

__all__ = ["AsyncHiveMessageBusClient", "BinaryDataCallbacks"]
