"""What a satellite keeps between runs: its identity file (keys, hub pins, trusted keys, the
v3 PSK cache), and the stores that fulfil the core's requests to read and write them."""

from hivemind_client.identity import node_identity as _moved
from hivemind_client.identity.node_identity import *  # noqa: F403
from hivemind_client.identity.stores import (
    IdentityNoiseStore,
    MemoryNoiseStore,
    NoiseKeyStore,
    PskResult,
    perform,
)

__all__ = list(_moved.__all__)
__all__ += [
    "IdentityNoiseStore",
    "MemoryNoiseStore",
    "NoiseKeyStore",
    "PskResult",
    "perform",
]
