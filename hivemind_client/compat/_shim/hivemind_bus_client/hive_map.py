"""``hivemind_bus_client.hive_map``: :mod:`hivemind_client.satellite.hivemap`."""

from hivemind_client.satellite.hivemap import FloodCache, HiveMapper, NodeInfo, display_peer

__all__ = ["FloodCache", "FloodIdCache", "HiveMapper", "NodeInfo", "display_peer"]

FloodIdCache = FloodCache
