"""Moved to :mod:`hivemind_client.security.aead`; this path keeps existing imports working."""

from hivemind_client.security import aead as _moved
from hivemind_client.security.aead import *  # noqa: F403

__all__ = list(_moved.__all__)
