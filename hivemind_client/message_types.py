"""Moved to :mod:`hivemind_client.wire.message_types`; this path keeps existing imports working."""

from hivemind_client.wire import message_types as _moved
from hivemind_client.wire.message_types import *  # noqa: F403

__all__ = list(_moved.__all__)
