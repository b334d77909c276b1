"""``hivemind_bus_client.http_client``: :mod:`hivemind_client.http` (the HTTP driver)."""

from __future__ import annotations

from typing import Any

from hivemind_client.http.client import HiveMindHTTPClient as _HTTPClient
from hivemind_client.satellite.core import ConnectionInfo

from ._connect import REFERENCE_CONNECT_DOC, take_reference_arguments

__all__ = ["HiveMindHTTPClient"]


class HiveMindHTTPClient(_HTTPClient):
    """:class:`hivemind_client.http.HiveMindHTTPClient` with the reference's ``connect``
    arguments."""

    def connect(  # type: ignore[override]
        self,
        bus: Any = None,
        protocol: Any = None,
        site_id: str | None = None,
        handshake_max_retries: int | None = None,
        timeout: float = 15.0,
    ) -> ConnectionInfo:
        del handshake_max_retries
        take_reference_arguments(self, bus, protocol)
        return super().connect(site_id=site_id, timeout=timeout)

    connect.__doc__ = REFERENCE_CONNECT_DOC
