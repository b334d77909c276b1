"""``hivemind_bus_client.http_client``: :mod:`hivemind_client.http` (the HTTP driver)."""

from __future__ import annotations

from hivemind_client.http.client import HiveMindHTTPClient as _HTTPClient

from ._connect import ReferenceConnect

__all__ = ["HiveMindHTTPClient"]


class HiveMindHTTPClient(ReferenceConnect, _HTTPClient):  # type: ignore[misc]
    """:class:`hivemind_client.http.HiveMindHTTPClient` with the reference's ``connect``
    arguments."""
