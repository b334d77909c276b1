"""Moved to :mod:`hivemind_client.wire.frame`; this path keeps existing imports working."""

from hivemind_client.wire import frame as _moved
from hivemind_client.wire.frame import *  # noqa: F403

__all__ = list(_moved.__all__)
