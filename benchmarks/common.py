"""What the benchmark scripts share: lme4's recorded times and a median timer."""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def lme4_times() -> dict:
    """lme4's timings by case id, from ``lme4_times.json`` (``tools/lme4_timings.R``); {} if absent."""
    path = HERE / "lme4_times.json"
    return {t["id"]: t for t in json.load(open(path))["timings"]} if path.exists() else {}


def timed(fn, reps: int = 1):
    """Median wall and CPU seconds of ``reps`` calls of ``fn``, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(reps):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out
