"""The asyncio driver: :class:`AsyncHiveMessageBusClient`, on one event loop, no threads."""

from hivemind_client.aio.client import AsyncHiveMessageBusClient

__all__ = ["AsyncHiveMessageBusClient"]
