"""``hivemind_bus_client.protocol``: the reference's satellite protocol object has no
counterpart here (the sans-I/O :class:`hivemind_client.satellite.core.SatelliteCore` does that
work); only its constants are mapped."""

from hivemind_client.satellite.cascade import CascadeAggregator

__all__ = ["CascadeAggregator"]
