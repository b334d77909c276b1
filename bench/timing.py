"""A tiny timing helper shared by our benchmarks and the reference-side scripts.

Kept free of project imports so the same file runs under the reference's interpreter.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(
    function: Callable[[], object], *, min_seconds: float = 0.2, repeats: int = 5
) -> float:
    """Best mean seconds per call over ``repeats`` rounds of at least ``min_seconds`` each."""
    number = 1
    while True:  # calibrate the loop count
        start = time.perf_counter()
        for _ in range(number):
            function()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds / 4 or number >= 1 << 20:
            break
        number *= 4
    number = (
        max(1, int(number * (min_seconds / max(elapsed, 1e-9)) / 1))
        if elapsed < min_seconds
        else number
    )
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best
