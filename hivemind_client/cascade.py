"""Moved to :mod:`hivemind_client.satellite.cascade`; this path keeps existing imports working."""

from hivemind_client.satellite import cascade as _moved
from hivemind_client.satellite.cascade import *  # noqa: F403

__all__ = list(_moved.__all__)
