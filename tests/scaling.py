"""Scaling checks as ratios, not wall-clock limits: a slow CI machine slows both sizes alike."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(run: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` runs, in seconds (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def growth(run: Callable[[int], object], n: int, factor: int = 4, repeat: int = 3) -> float:
    """How much longer `run(n * factor)` takes than `run(n)`.

    About `factor` when the work is linear, about `factor ** 2` when it is quadratic; a test asserts
    it stays well below the quadratic figure (e.g. < 2 * factor).
    """
    run(n)  # warm caches (pipelines, regexes) outside the measurement
    small = best_time(lambda: run(n), repeat)
    large = best_time(lambda: run(n * factor), repeat)
    return large / small
