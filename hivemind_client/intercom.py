"""Moved to :mod:`hivemind_client.security.intercom`; this path keeps existing imports working."""

from hivemind_client.security import intercom as _moved
from hivemind_client.security.intercom import *  # noqa: F403

__all__ = list(_moved.__all__)
