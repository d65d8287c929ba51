"""The Monte Carlo runner shared by mk.bootstrap and mk.power."""
import numpy as np
import pytest

from mlmkit.errors import ParameterError
from mlmkit.inference.montecarlo import check_n_jobs, chunked, run_chunks, seed_sequence, worker_chunk_size


@pytest.mark.parametrize("bad", [0, True, 1.5, "2", None])
def test_n_jobs_must_be_a_nonzero_integer(bad):
    with pytest.raises(ParameterError, match="n_jobs must be a non-zero integer"):
        check_n_jobs(bad)


def test_chunks_cover_every_stream_once_in_order():
    streams = list(range(23))
    parts = chunked(streams, 5)
    assert [len(p) for p in parts] == [5, 5, 5, 5, 3]
    assert [s for p in parts for s in p] == streams


def test_results_come_back_in_task_order_whatever_the_workers():
    tasks = [(k, np.random.SeedSequence(7).spawn(12)[k:k + 4]) for k in range(0, 12, 4)]

    def work(k, seeds):
        return [k + b for b in range(len(seeds))], [int(np.random.default_rng(s).integers(1 << 30)) for s in seeds]

    serial = run_chunks(work, tasks, [4, 4, 4], n_jobs=1, progress=False)
    threads = run_chunks(work, tasks, [4, 4, 4], n_jobs=2, progress=False)
    assert [r[0] for r in serial] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert serial == threads


def test_a_replicate_stream_depends_only_on_the_seed():
    a = seed_sequence(11).spawn(5)[3]
    b = seed_sequence(np.random.SeedSequence(11)).spawn(5)[3]
    assert np.random.default_rng(a).random() == np.random.default_rng(b).random()
    with pytest.raises(ParameterError, match="seed must be None"):
        seed_sequence(-1)


def test_chunk_size_balances_workers_and_is_bounded():
    assert worker_chunk_size(1000, 1) == 50
    assert worker_chunk_size(8, 1) == 2
    assert worker_chunk_size(3, 1) == 1
