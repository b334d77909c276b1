"""``hivemind_bus_client.http_client``: :mod:`hivemind_client.http` (the HTTP driver)."""

from hivemind_client.http.client import HiveMindHTTPClient

__all__ = ["HiveMindHTTPClient"]
