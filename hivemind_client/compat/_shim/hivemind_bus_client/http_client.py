"""``hivemind_bus_client.http_client``: :mod:`hivemind_client.http` (the HTTP driver)."""

from importlib import import_module
from typing import Any

__all__ = ["HiveMindHTTPClient"]


def __getattr__(name: str) -> Any:
    if name == "HiveMindHTTPClient":
        try:
            return import_module("hivemind_client.http").HiveMindHTTPClient
        except (ImportError, AttributeError):
            raise ImportError("this hivemind_client has no HTTP driver (hivemind_client.http)") from None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
