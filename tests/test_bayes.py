"""mlmkit.bayes: the BLAS-free graph rewrite, the sampler patches (and their undoing), summaries."""
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
import pymc as pm  # noqa: E402
import pytensor  # noqa: E402
import pytensor.tensor as pt  # noqa: E402

from mlmkit import bayes  # noqa: E402
from mlmkit.errors import ParameterError  # noqa: E402

BLAS_OPS = ("dot", "gemv", "gemm", "ger", "blas")


def _op_names(f):
    return {type(n.op).__name__.lower() for n in f.maker.fgraph.apply_nodes}


@pytest.mark.parametrize("xshape,yshape", [((7, 3), (3,)), ((3,), (3, 4)), ((5, 3), (3, 4)), ((6,), (6,))])
def test_rewrite_removes_blas_and_keeps_values(xshape, yshape):
    rng = np.random.default_rng(0)
    xv, yv = rng.normal(size=xshape), rng.normal(size=yshape)
    x, y = pt.tensor("x", shape=(None,) * len(xshape)), pt.tensor("y", shape=(None,) * len(yshape))
    out = pt.dot(x, y)
    cost = (out ** 2).sum()
    grads = pytensor.grad(cost, [x, y])
    plain = pytensor.function([x, y], [out, *grads])
    free = pytensor.function([x, y], [out, *grads], mode=bayes.blas_free_mode())
    names = _op_names(free)
    assert not [n for n in names if any(b in n for b in BLAS_OPS)], names
    assert [n for n in _op_names(plain) if any(b in n for b in BLAS_OPS)]     # the rewrite did something
    for a, b in zip(plain(xv, yv), free(xv, yv)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_patches_are_installed_and_undone():
    from pymc.step_methods.hmc import integration, quadpotential as qp

    before = (integration.linalg, qp.QuadPotentialDiagAdapt.energy, qp.QuadPotentialDiag.velocity_energy)
    with bayes.deterministic_sampling():
        assert integration.linalg.blas.get_blas_funcs("axpy", dtype=float) is bayes._axpy
        pot = qp.QuadPotentialDiag(np.array([1.0, 4.0]))
        x = np.array([1.0, 2.0])
        v = np.empty(2)
        assert pot.velocity_energy(x, v) == pytest.approx(0.5 * (1 * 1 + 4 * 4))
        np.testing.assert_array_equal(v, [1.0, 8.0])
    after = (integration.linalg, qp.QuadPotentialDiagAdapt.energy, qp.QuadPotentialDiag.velocity_energy)
    assert all(a is b for a, b in zip(before, after))


def test_axpy_semantics():
    y = np.array([1.0, 2.0])
    out = bayes._axpy(np.array([3.0, 4.0]), y, a=0.5)
    assert out is y
    np.testing.assert_array_equal(y, [2.5, 4.0])


def test_tiny_model_draws_and_summary():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 10)
        pm.Normal("y", mu, 1, observed=np.array([0.5, 1.5, 1.0, 2.0]))
    f1 = bayes.fit(model, draws=200, tune=200, chains=2, seed=5)
    f2 = bayes.fit(model, draws=200, tune=200, chains=2, seed=5)
    assert bayes.draws_hash(f1) == bayes.draws_hash(f2)
    s = bayes.summary(f1, ["mu"])
    assert list(s.index) == ["mu"]
    assert list(s.columns) == ["mean", "sd", "q0.025", "q0.975", "r_hat", "ess_bulk", "ess_tail"]
    # conjugate posterior: mean 1.25 * 4 / (4 + 0.01), sd 1 / sqrt(4.01)
    assert s.loc["mu", "mean"] == pytest.approx(5.0 / 4.01, abs=0.1)
    assert s.loc["mu", "sd"] == pytest.approx(4.01 ** -0.5, abs=0.08)
    assert s.loc["mu", "q0.025"] < s.loc["mu", "mean"] < s.loc["mu", "q0.975"]
    assert f1.divergences == 0


def test_bad_arguments():
    with pytest.raises(ParameterError):
        bayes.fit(42, pd.DataFrame({"y": [1.0]}))
    with pytest.raises(ParameterError):
        bayes.fit("y ~ 1 + (1|g)", "not a frame")
    with pm.Model() as model:
        pm.Normal("mu", 0, 1)
    with pytest.raises(ParameterError):
        bayes.fit(model, draws=0)
    with pytest.raises(ParameterError):
        bayes.fit(model, target_accept=1.5)


def test_one_module_linker_and_its_fallback():
    """blas_free_mode links a graph whose ops all have C code as one C module (PyTensor's CLinker, a
    ``_CThunk``), and a graph with an op without C code (Cholesky) op by op; values as by default."""
    x = pt.dvector("x")
    outs = [pt.exp(x).sum(), pt.log1p(x) * x]
    one = pytensor.function([x], outs, mode=bayes.blas_free_mode())
    assert type(one.vm).__name__ == "_CThunk"
    xv = np.array([0.5, 1.5, 3.0])
    for a, b in zip(pytensor.function([x], outs)(xv), one(xv)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError):                          # PyTensor's own input check still runs
        one(np.ones((2, 2)))
    m = pt.dmatrix("m")
    chol = pt.linalg.cholesky(m + pt.eye(2))
    mixed = pytensor.function([m], chol, mode=bayes.blas_free_mode())
    assert type(mixed.vm).__name__ != "_CThunk"
    np.testing.assert_allclose(mixed(np.eye(2)), np.sqrt(2) * np.eye(2), rtol=1e-15)


def test_sample_restores_the_default_mode():
    before = pytensor.config.mode
    with pm.Model() as model:
        pm.Normal("mu", 0, 1)
    bayes.fit(model, draws=5, tune=5, chains=1, seed=1)
    assert pytensor.config.mode == before
    s = pt.dscalar("s")
    assert type(pytensor.function([s], s * 2).vm).__name__ != "_CThunk"    # the default linker again
