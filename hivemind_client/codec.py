"""Moved to :mod:`hivemind_client.wire.codec`; this path keeps existing imports working."""

from hivemind_client.wire import codec as _moved
from hivemind_client.wire.codec import *  # noqa: F403

__all__ = list(_moved.__all__)
