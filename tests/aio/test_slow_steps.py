"""The blocking-step check itself: it must catch a blocking call and a CPU hog on the loop."""

from __future__ import annotations

import asyncio
import hashlib
import time

from .slow_steps import SLOW_CALLBACK, SlowSteps


def test_a_blocking_call_and_a_cpu_hog_are_caught_and_an_await_is_not(
    slow_steps: SlowSteps,
) -> None:
    async def sleeper() -> None:
        time.sleep(0.3)  # a blocking call: longer than the waiting bound

    async def hog() -> None:
        hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 400_000)  # ~130 ms of CPU

    async def polite() -> None:
        await asyncio.sleep(0.3)

    async def main() -> None:
        asyncio.get_running_loop().slow_callback_duration = SLOW_CALLBACK
        await asyncio.gather(sleeper(), hog(), polite())

    asyncio.run(main(), debug=True)
    caught = " ".join(slow_steps.reports)
    assert len(slow_steps.reports) == 2, slow_steps.reports
    assert "sleeper" in caught and "hog" in caught and "polite" not in caught
