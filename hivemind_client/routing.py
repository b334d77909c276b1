"""Moved to :mod:`hivemind_client.satellite.routing`; this path keeps existing imports working."""

from hivemind_client.satellite import routing as _moved
from hivemind_client.satellite.routing import *  # noqa: F403

__all__ = list(_moved.__all__)
