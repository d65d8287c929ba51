"""One Monte Carlo runner for the parametric bootstrap and power simulations.

Both split their replicates into chunks of ``SeedSequence`` children, run each chunk with a worker
function, and count finished replicates on one tqdm bar.  A replicate's stream depends only on its
position (``SeedSequence(seed).spawn(nsim)[b]``), never on which process ran it, so the results are
the same for ``n_jobs = 1``, ``n_jobs = -1`` or joblib's Dask backend on a cluster::

    with joblib.parallel_config(backend="dask"):
        boot = mlmkit.bootstrap(m, statistic, nsim=10_000, n_jobs=-1)
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ParameterError

__all__ = ["check_n_jobs", "chunked", "run_chunks", "seed_sequence"]


def seed_sequence(seed) -> np.random.SeedSequence:
    """A SeedSequence from None, an int, a SeedSequence or a numpy Generator."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(0, 2 ** 63)))
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise ParameterError(f"seed must be None, a non-negative integer, a SeedSequence or a numpy Generator, not {seed!r}")


def check_n_jobs(n_jobs) -> int:
    """joblib's convention: 1 = in this process, -1 = one worker per core, k > 1 = k workers.

    >>> check_n_jobs(0)
    Traceback (most recent call last):
    mlmkit.errors.ParameterError: n_jobs must be a non-zero integer (1 = no parallelism, -1 = all cores), got 0
    """
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ParameterError(f"n_jobs must be a non-zero integer (1 = no parallelism, -1 = all cores), got {n_jobs!r}")
    return int(n_jobs)


def chunked(streams: Sequence, size: int) -> list:
    """Consecutive slices of ``streams`` of at most ``size`` replicates (the unit shipped to a worker)."""
    size = max(1, int(size))
    return [streams[k:k + size] for k in range(0, len(streams), size)]


def run_chunks(work: Callable[..., Any], tasks: Sequence[tuple], sizes: Sequence[int], *, n_jobs: int = 1,
               progress: bool = True, desc: str = "replicates") -> list:
    """``[work(*task) for task in tasks]``, in order, serially or on joblib workers.

    ``sizes[i]`` is the number of replicates task i holds; the tqdm bar advances by it when the task
    finishes.  With ``n_jobs != 1`` joblib's generator returns results in submission order while later
    tasks still run, so the bar moves as replicates finish and the memory held is one result per task.
    """
    from tqdm.auto import tqdm
    n_jobs = check_n_jobs(n_jobs)
    results = []
    with tqdm(total=int(sum(sizes)), disable=not progress, desc=desc, unit="fit") as bar:
        if n_jobs == 1:
            outputs = (work(*task) for task in tasks)
        else:
            from joblib import Parallel, delayed
            outputs = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(work)(*task) for task in tasks)
        for size, out in zip(sizes, outputs):
            results.append(out)
            bar.update(size)
    return results


def worker_chunk_size(nsim: int, n_jobs: int, largest: int = 50) -> int:
    """Replicates per task: about four tasks per worker (load balance), at most ``largest`` (progress)."""
    from joblib import effective_n_jobs
    workers = 1 if n_jobs == 1 else effective_n_jobs(n_jobs)
    return max(1, min(largest, nsim // (4 * workers)))
