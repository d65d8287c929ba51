"""mlmkit.engine.profiled: the closed-form criterion for one grouping factor equals the blocked Cholesky."""
import numpy as np
import pandas as pd
import pytest

from mlmkit.spec.design import lformula
from mlmkit.lmm import mk_lmer_devfun
from mlmkit.engine.profiled import _cholesky_pivots, _cholesky_pivots_batched
from reference_fits import case_data, reference

# (case, number of effects per level): intercepts, correlated and independent slopes, slope only,
# a categorical slope (q = 2 with a 0/1 column) and a case with a missing-value drop.
CASES = ["dyestuff", "sleep_ri", "sleep_slope", "sleep_slope_ml", "sleep_uncorr", "sleep_slope_only",
         "imm10_rs", "imm23_rs", "cake_temp", "sleep_na"]


def _devfun(cid):
    case = reference("lmer")[cid]
    return case, mk_lmer_devfun(lformula(case["formula"], case_data(case)), REML=case["REML"])


@pytest.mark.parametrize("cid", CASES)
def test_closed_form_equals_cholesky_factor(cid):
    case, f = _devfun(cid)
    assert f.system.small_block is not None
    rng = np.random.default_rng(3)
    thetas = [np.array(case["theta"]), f.design.theta_start]
    thetas += [np.maximum(np.array(case["theta"]) + rng.normal(scale=0.3, size=len(case["theta"])), f.lower)
               for _ in range(5)]
    for th in thetas:
        fac = f.factor(th)
        ldL2, ldRX2, r2 = f.system.profiled_parts(th)
        assert ldL2 == pytest.approx(fac.ldL2, rel=1e-11, abs=1e-9)
        assert ldRX2 == pytest.approx(fac.ldRX2, rel=1e-11, abs=1e-9)
        assert r2 == pytest.approx(fac.r2, rel=1e-11)


@pytest.mark.parametrize("cid", CASES)
def test_batched_evaluation_equals_one_at_a_time(cid):
    case, f = _devfun(cid)
    rng = np.random.default_rng(5)
    T = np.maximum(np.array(case["theta"]) + rng.normal(scale=0.1, size=(9, len(case["theta"]))), f.lower)
    np.testing.assert_allclose(f.many(T), [f(t) for t in T], rtol=1e-12)


def test_boundary_theta_and_zero_variance():
    """At θ = 0 the random effects vanish: log|L|² = 0 and r² is the OLS residual sum of squares."""
    case, f = _devfun("sleep_slope")
    ldL2, _, r2 = f.system.profiled_parts(np.zeros(3))
    X, y = f.design.X, f.design.y
    rss = np.sum((y - X @ np.linalg.lstsq(X, y, rcond=None)[0]) ** 2)
    assert ldL2 == 0.0 and r2 == pytest.approx(rss, rel=1e-12)


def test_slope_column_with_no_spread_in_a_level():
    """|A_i| = 0 when a level's slope column is constant (one distinct x): still finite and equal."""
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(12), 5)
    x = rng.normal(size=60)
    x[g == 3] = 1.5                                              # no spread within level 3
    df = pd.DataFrame({"y": rng.normal(size=60) + x, "x": x, "g": g})
    f = mk_lmer_devfun(lformula("y ~ x + (x | g)", df))
    for th in ([1.0, 0.0, 1.0], [0.7, -0.4, 0.3], [2.0, 1.0, 1e-6]):
        fac = f.factor(np.array(th))
        assert f(th) == pytest.approx(f.criterion(fac), rel=1e-12)


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_cholesky_pivots_are_the_squared_diagonal(m):
    rng = np.random.default_rng(m)
    A = rng.normal(size=(m, m + 3))
    S = A @ A.T
    expected = np.diag(np.linalg.cholesky(S)) ** 2
    np.testing.assert_allclose(_cholesky_pivots(S.tolist()), expected, rtol=1e-12)
    np.testing.assert_allclose(_cholesky_pivots_batched(np.stack([S, 2 * S]))[1], 2 * expected, rtol=1e-12)


def test_rank_deficient_pivot_stops_and_reports_zero():
    S = [[1.0, 1.0, 0.5], [1.0, 1.0, 0.5], [0.5, 0.5, 2.0]]           # second column aliased with the first
    piv = _cholesky_pivots(S)
    assert piv[1] == pytest.approx(0.0, abs=1e-15) and piv[2] == 0.0
