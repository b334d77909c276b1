"""The reference clients' ``connect(bus, protocol, site_id, handshake_max_retries)`` arguments,
mapped onto this library's clients (shared by the threaded, asyncio and HTTP shims)."""

from __future__ import annotations

from typing import Any

from hivemind_client.errors import InvalidArgument
from hivemind_client.satellite.core import ConnectionInfo

__all__ = ["REFERENCE_CONNECT_DOC", "ReferenceConnect", "take_reference_arguments"]

REFERENCE_CONNECT_DOC = """Connect as the reference's ``connect`` is called.

        ``bus``: an OVOS bus to join to the hub besides ``internal_bus`` (``bridge_bus``);
        ``protocol``: must be None (the satellite protocol runs inside the client);
        ``handshake_max_retries``: accepted and not used: the first failed attempt raises a
        typed error (``run_in_thread`` is the call that keeps trying).
        """


def take_reference_arguments(client: Any, bus: Any, protocol: Any) -> None:
    """Apply ``bus``; refuse a protocol object, which nothing here could drive."""
    if protocol is not None:
        raise InvalidArgument(
            "connect(protocol=...) is not supported: hivemind_client runs the satellite "
            "protocol inside the client (hivemind_client.satellite.core.SatelliteCore)"
        )
    client.bridge_bus(bus)


class ReferenceConnect:
    """Mixin for a threaded client (websocket or HTTP): the reference's ``connect``."""

    def connect(
        self,
        bus: Any = None,
        protocol: Any = None,
        site_id: str | None = None,
        handshake_max_retries: int | None = None,
        timeout: float = 15.0,
    ) -> ConnectionInfo:
        del handshake_max_retries
        take_reference_arguments(self, bus, protocol)
        connected: ConnectionInfo = super().connect(  # type: ignore[misc]
            site_id=site_id, timeout=timeout
        )
        return connected

    connect.__doc__ = REFERENCE_CONNECT_DOC
