"""``hivemind_bus_client`` mapped onto hivemind_client (see hivemind_client.compat)."""

from typing import Any

from .message import HiveMessage, HiveMessageType

__all__ = ["HiveMessage", "HiveMessageBusClient", "HiveMessageType"]


def __getattr__(name: str) -> Any:
    # the clients load on first use, as the reference's async names do
    if name == "HiveMessageBusClient":
        from .client import HiveMessageBusClient

        return HiveMessageBusClient
    if name in ("AsyncHiveMessageBusClient", "AsyncHiveMessageWaiter", "AsyncHivePayloadWaiter"):
        from . import async_client

        return getattr(async_client, name)
    raise AttributeError(f"module 'hivemind_bus_client' has no attribute {name!r}")
