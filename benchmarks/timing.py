"""Timing helpers shared by the benchmarks: every figure is a ratio to a baseline timed the same way."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def best_time(action: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` runs, in seconds: the run least disturbed by the rest of the machine."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def median_time(action: Callable[[], Any], repeats: int) -> float:
    """The median of ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def best_of_interleaved(repeats: int, *runs: Callable[[], float]) -> list[float]:
    """Run each timing function ``repeats`` times, alternating, so both see the same machine; the best of each."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for index, run in enumerate(runs):
            times[index].append(run())
    return [min(values) for values in times]


def command_time(command: list[str]) -> float:
    """Wall time of a whole process (a cold start), after flushing pending writes; raises if it fails."""
    os.sync()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... failed:\n{done.stderr[-2000:]}")
    return elapsed
