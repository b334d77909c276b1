"""Moved to :mod:`hivemind_client.core.events`; this path keeps existing imports working."""

from hivemind_client.core import events as _moved
from hivemind_client.core.events import *  # noqa: F403

__all__ = list(_moved.__all__)
