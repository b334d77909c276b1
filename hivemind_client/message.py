"""Moved to :mod:`hivemind_client.wire.message`; this path keeps existing imports working."""

from hivemind_client.wire import message as _moved
from hivemind_client.wire.message import *  # noqa: F403

__all__ = list(_moved.__all__)
