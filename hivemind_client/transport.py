"""Moved to :mod:`hivemind_client.sync.transport`; this path keeps existing imports working."""

from hivemind_client.sync import transport as _moved
from hivemind_client.sync.transport import *  # noqa: F403

__all__ = list(_moved.__all__)
