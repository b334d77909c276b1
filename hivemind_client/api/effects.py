"""Side effects' results back into the core: one place for every driver.

A driver runs :func:`~hivemind_client.identity.stores.perform` where slow work belongs (a
worker thread, an executor) and hands the result to :func:`feed_result`, under whatever lock
guards its core; then it writes what the core produced (Noise message 1, or our HELLO).
"""

from __future__ import annotations

from hivemind_client.identity.stores import LinkKeyResult, PskResult
from hivemind_client.satellite.core import SatelliteCore

__all__ = ["feed_result"]


def feed_result(
    core: SatelliteCore, result: PskResult | LinkKeyResult | None, *, now: float, wall: float
) -> bool:
    """Give ``result`` to ``core``; True when it took one (the driver then writes)."""
    if isinstance(result, PskResult):
        core.receive_psk(result.psk, cached=result.cached, now=now, wall=wall)
        return True
    if isinstance(result, LinkKeyResult):
        core.receive_link_key(result.key, now=now, wall=wall)
        return True
    return False
