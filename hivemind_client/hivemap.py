"""Moved to :mod:`hivemind_client.satellite.hivemap`; this path keeps existing imports working."""

from hivemind_client.satellite import hivemap as _moved
from hivemind_client.satellite.hivemap import *  # noqa: F403

__all__ = list(_moved.__all__)
