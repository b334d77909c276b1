"""Moved to :mod:`hivemind_client.security.legacy_handshake`; this path keeps existing imports working."""

from hivemind_client.security import legacy_handshake as _moved
from hivemind_client.security.legacy_handshake import *  # noqa: F403

__all__ = list(_moved.__all__)
