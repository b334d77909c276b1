"""``hivemind_bus_client.async_client``: :mod:`hivemind_client.aio` (the asyncio driver)."""

from importlib import import_module
from typing import Any

from hivemind_client.api.handlers import BinaryDataCallbacks

__all__ = ["AsyncHiveMessageBusClient", "BinaryDataCallbacks"]


def __getattr__(name: str) -> Any:
    # the asyncio driver is loaded on first use: it may not be in this version of the library
    if name == "AsyncHiveMessageBusClient":
        try:
            return import_module("hivemind_client.aio").AsyncHiveMessageBusClient
        except (ImportError, AttributeError):
            raise ImportError("this hivemind_client has no asyncio driver (hivemind_client.aio)") from None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
