"""A check that no step of an event loop blocks it: asyncio debug mode's slow-step reports, net
of the time the kernel had the thread preempted (used by tests/aio and tests/e2e)."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Iterator

import pytest

SLOW_CALLBACK = 0.05
"""Any one step of the event loop longer than this is a blocking call (asyncio debug mode)."""
WAITING_BOUND = 0.15
"""A slow step that used little CPU waited for something: another thread's GIL or a page
fault on a loaded machine (under 150 ms), or a blocking call (the bound: over it, it fails)."""


def _runqueue_wait() -> float:
    """Seconds this thread has spent runnable but not running (preempted), from the kernel."""
    with open("/proc/thread-self/schedstat") as stats:
        return int(stats.read().split()[1]) / 1e9


class SlowSteps(logging.Handler):
    """Loop steps over ``SLOW_CALLBACK``, as asyncio debug mode reports them ("Executing
    <step> took N seconds"), less the time the kernel had the thread preempted: on a loaded
    2-core machine a 5 ms step can take 60 ms of wall time without blocking anything.

    A report stands when the rest is over the bound and the step either computed for most of
    it (CPU time: work that belongs in an executor) or waited longer than ``WAITING_BOUND``
    (a blocking call; shorter waits with an idle CPU are the GIL held by another thread).
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reports: list[str] = []
        self.excused: list[str] = []
        self._run = asyncio.events.Handle._run
        self._preempted: dict[int, tuple[float, float]] = {}  # (preempted, CPU) of the last step

    def install(self) -> None:
        handler, original = self, self._run

        def timed_run(step: asyncio.events.Handle) -> None:
            before, cpu = _runqueue_wait(), time.thread_time()
            try:
                original(step)
            finally:
                handler._preempted[threading.get_ident()] = (
                    _runqueue_wait() - before,
                    time.thread_time() - cpu,
                )

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]

    def uninstall(self) -> None:
        asyncio.events.Handle._run = self._run  # type: ignore[method-assign]

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match = re.search(r"^Executing .* took (\d+\.\d+) seconds$", message, re.S)
        if match is None:
            return
        preempted, cpu = self._preempted.get(threading.get_ident(), (0.0, 0.0))
        own = float(match.group(1)) - preempted
        if own > SLOW_CALLBACK and (cpu > own / 2 or own > WAITING_BOUND):
            self.reports.append(f"{message} ({preempted:.3f} s preempted, {cpu:.3f} s CPU)")
        else:
            self.excused.append(f"{message} ({preempted:.3f} s preempted, {cpu:.3f} s CPU)")


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
