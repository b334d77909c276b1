"""Moved to :mod:`hivemind_client.security.encodings`; this path keeps existing imports working."""

from hivemind_client.security import encodings as _moved
from hivemind_client.security.encodings import *  # noqa: F403

__all__ = list(_moved.__all__)
