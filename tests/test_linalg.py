"""mlmkit.engine.linalg: BLAS thread limiting around fits."""
from threadpoolctl import threadpool_info

from mlmkit.engine.linalg import blas_threads


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_blas_threads_limits_inside_and_restores_after():
    before = _blas_threads()
    with blas_threads():
        assert all(n == 1 for n in _blas_threads())
    assert _blas_threads() == before


def test_blas_threads_restores_after_an_error():
    before = _blas_threads()
    try:
        with blas_threads():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert _blas_threads() == before
