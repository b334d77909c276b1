"""Fixtures of the bench tests: the thread-leak check is the driver tests' own."""

from __future__ import annotations

from tests.sync.conftest import no_thread_leak

__all__ = ["no_thread_leak"]
