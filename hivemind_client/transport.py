"""Moved to :mod:`hivemind_client.sync.driver`; this path keeps existing imports working."""

from hivemind_client.sync import driver as _moved
from hivemind_client.sync.driver import *  # noqa: F403

__all__ = list(_moved.__all__)
