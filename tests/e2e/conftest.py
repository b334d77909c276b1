"""Hubs shared by several e2e modules: one 5.3 hub serving the HTTP polling plugin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .hubs import RunningHub


@pytest.fixture(scope="session")
def http_hub() -> Iterator[RunningHub]:
    """hivemind-core 5.3 with hivemind-http-protocol instead of the websocket listener."""
    with RunningHub("5.3", http=True) as running:
        yield running


@pytest.fixture(scope="session")
def http_binarize_hub() -> Iterator[RunningHub]:
    with RunningHub("5.3", http=True, binarize=True) as running:
        yield running
