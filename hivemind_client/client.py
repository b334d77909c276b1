"""Moved to :mod:`hivemind_client.sync.client`; this path keeps existing imports working."""

from hivemind_client.sync import client as _moved
from hivemind_client.sync.client import *  # noqa: F403

__all__ = list(_moved.__all__)
