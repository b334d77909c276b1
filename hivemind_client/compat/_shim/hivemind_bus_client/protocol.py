"""``hivemind_bus_client.protocol``: the reference's satellite protocol objects have no
counterpart here: the sans-I/O :class:`hivemind_client.satellite.core.SatelliteCore` does their
work inside every client. The names import (code that only mentions them keeps loading); building
one says where the work is done instead. CASCADE aggregation and the verified-source key are
mapped."""

from __future__ import annotations

from typing import Any, NoReturn

from hivemind_client.satellite.cascade import CascadeAggregator
from hivemind_client.satellite.routing import VERIFIED_SOURCE_KEY

__all__ = [
    "VERIFIED_SOURCE_PEER_KEY",
    "CascadeAggregator",
    "HiveMindSlaveInternalProtocol",
    "HiveMindSlaveProtocol",
]

VERIFIED_SOURCE_PEER_KEY = VERIFIED_SOURCE_KEY


class _NoCounterpart:
    """Importable; building one raises (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> NoReturn:
        del args, kwargs
        raise NotImplementedError(
            f"hivemind_client has no {type(self).__name__}: the satellite protocol runs inside"
            " HiveMessageBusClient (hivemind_client.satellite.core.SatelliteCore)"
        )


class HiveMindSlaveProtocol(_NoCounterpart):
    """The reference's satellite protocol object (not mapped)."""


class HiveMindSlaveInternalProtocol(_NoCounterpart):
    """The reference's local-bus bridge object (not mapped)."""
