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


def calibrate(function: Callable[[], object], target: float) -> int:
    """Calls per repeat so that one repeat of ``function`` takes about ``target`` seconds."""
    function()  # warm up (caches, lazy imports)
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            function()
        elapsed = time.perf_counter() - start
        if elapsed >= target / 8 or number >= 1 << 20:
            return max(1, int(number * target / max(elapsed, 1e-9)))
        number *= 4


def one_repeat(function: Callable[[], object], number: int) -> float:
    """Mean seconds per call over one repeat of ``number`` calls."""
    start = time.perf_counter()
    for _ in range(number):
        function()
    return (time.perf_counter() - start) / number


class Repeater:
    """A calibrated timing loop: each ``()`` call runs one repeat, returns seconds per call."""

    def __init__(self, function: Callable[[], object], target: float) -> None:
        self.function = function
        self.number = calibrate(function, target)

    def __call__(self) -> float:
        return one_repeat(self.function, self.number)


def alternate(sides: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Best (lowest) result of each side over ``repeats`` rounds, the sides taking turns."""
    best = dict.fromkeys(sides, float("inf"))
    for _ in range(repeats):
        for name, side in sides.items():
            best[name] = min(best[name], side())
    return best
