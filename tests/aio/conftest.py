"""Fixtures of the asyncio driver tests."""

from tests.aio.slow_steps import slow_steps

__all__ = ["slow_steps"]
