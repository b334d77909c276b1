"""Fixtures of the asyncio driver tests: a loop log that fails a test on a blocking step."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Iterator

import pytest

SLOW_CALLBACK = 0.05
"""Any one step of the event loop longer than this is a blocking call (asyncio debug mode)."""


def _runqueue_wait() -> float:
    """Seconds this thread has spent runnable but not running (preempted), from the kernel."""
    with open("/proc/thread-self/schedstat") as stats:
        return int(stats.read().split()[1]) / 1e9


class SlowSteps(logging.Handler):
    """Loop steps over ``SLOW_CALLBACK``, as asyncio debug mode reports them ("Executing
    <step> took N seconds"), less the time the kernel had the thread preempted: on a loaded
    2-core machine a 5 ms step can take 60 ms of wall time without blocking anything. The
    report stands when the step itself (running, or blocked in a call) took over the bound.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reports: list[str] = []
        self.excused: list[str] = []
        self._run = asyncio.events.Handle._run
        self._preempted: dict[int, float] = {}

    def install(self) -> None:
        handler, original = self, self._run

        def timed_run(step: asyncio.events.Handle) -> None:
            before = _runqueue_wait()
            try:
                original(step)
            finally:
                handler._preempted[threading.get_ident()] = _runqueue_wait() - before

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]

    def uninstall(self) -> None:
        asyncio.events.Handle._run = self._run  # type: ignore[method-assign]

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match = re.search(r"^Executing .* took (\d+\.\d+) seconds$", message, re.S)
        if match is None:
            return
        preempted = self._preempted.get(threading.get_ident(), 0.0)
        if float(match.group(1)) - preempted > SLOW_CALLBACK:
            self.reports.append(message)
        else:
            self.excused.append(f"{message} ({preempted:.3f} s preempted)")


@pytest.fixture
def slow_steps() -> Iterator[SlowSteps]:
    handler = SlowSteps()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    handler.install()
    try:
        yield handler
    finally:
        handler.uninstall()
        logger.removeHandler(handler)
