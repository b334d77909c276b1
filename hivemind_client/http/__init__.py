"""The HTTP polling driver: ``HiveMindHTTPClient`` for hubs running ``hivemind-http-protocol``."""

from hivemind_client.http.client import HiveMindHTTPClient

__all__ = ["HiveMindHTTPClient"]
