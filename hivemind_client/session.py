"""Moved to :mod:`hivemind_client.core.session`; this path keeps existing imports working."""

from hivemind_client.core import session as _moved
from hivemind_client.core.session import *  # noqa: F403
from hivemind_client.identity.stores import MemoryNoiseStore, NoiseKeyStore

__all__ = list(_moved.__all__)
__all__ += ["MemoryNoiseStore", "NoiseKeyStore"]
