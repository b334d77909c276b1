"""``hivemind_bus_client.hive_map``: :mod:`hivemind_client.satellite.hivemap`."""

from __future__ import annotations

import time
from typing import Any

from hivemind_client.satellite.hivemap import FloodCache, NodeInfo, display_peer
from hivemind_client.satellite.hivemap import HiveMapper as _HiveMapper

__all__ = ["FloodCache", "FloodIdCache", "HiveMapper", "NodeInfo", "display_peer"]


class FloodIdCache(FloodCache):
    """The library's flood cache, timed by ``time.time``; ``check`` takes the reference's
    ``max_size`` too, and ``cache[flood_id]`` is when that id was first seen."""

    def __init__(self, max_size: int = 1000) -> None:
        super().__init__(max_size, clock=time.time)

    def __getitem__(self, flood_id: str) -> float:
        seen = self.seen_at(flood_id)
        if seen is None:
            raise KeyError(flood_id)  # item access on the reference's cache, as a mapping's
        return seen

    def check(self, flood_id: str, max_size: int | None = None) -> bool:
        """True when seen before; otherwise record it (keeping at most ``max_size``)."""
        if max_size is not None and max_size != self.max_size:
            self._max_size = max(1, int(max_size))
        return super().check(flood_id)


class HiveMapper(_HiveMapper):
    """The library's hive map with the reference's flood-id check."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen_flood_ids = FloodIdCache()

    def check_flood_id(self, flood_id: str, max_size: int = 1000) -> bool:
        """True when ``flood_id`` was seen before; otherwise record it and return False."""
        return self._seen_flood_ids.check(flood_id, max_size=max_size)

    def clear(self) -> None:
        """Forget every node, edge and flood id."""
        super().clear()
        self._seen_flood_ids.clear()
