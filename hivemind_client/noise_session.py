"""Moved to :mod:`hivemind_client.security.hivemind_noise`; this path keeps existing imports working."""

from hivemind_client.security import hivemind_noise as _moved
from hivemind_client.security.hivemind_noise import *  # noqa: F403

__all__ = list(_moved.__all__)
