"""Moved to :mod:`hivemind_client.wire.validation`; this path keeps existing imports working."""

from hivemind_client.wire import validation as _moved
from hivemind_client.wire.validation import *  # noqa: F403

__all__ = list(_moved.__all__)
