"""The large-data paths: one-factor glmer (mlmkit.engine.onefactor) and dense crossed reductions (mlmkit.engine.crossed).

Each is checked against the general code on data small enough for both, by lowering the size from
which the fast path is taken.
"""
import numpy as np
import pandas as pd
import pytest

import mlmkit
import mlmkit.engine.crossed
import mlmkit.engine.onefactor
from mlmkit.glmm import glmer_design
from mlmkit.engine.pirls import GlmerDevFun


def _data(n=6000, groups=60, slope=False, family="binomial", seed=3):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    x = rng.standard_normal(n)
    eta = -0.3 + 0.5 * x + rng.normal(0, 0.8, groups)[g] + (rng.normal(0, 0.4, groups)[g] * x if slope else 0)
    if family == "poisson":
        y = rng.poisson(np.exp(0.5 * eta))
    else:
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    # groups not in code order, so that sorting the rows matters
    return pd.DataFrame({"y": y, "x": x, "g": (g * 7919) % 10007})


def _both(monkeypatch, formula, df, family, **kw):
    slow = mlmkit.glmer(formula, df, family=family, warn=False, **kw)
    monkeypatch.setattr(mlmkit.engine.onefactor, "MIN_ROWS", 0)
    fast = mlmkit.glmer(formula, df, family=family, warn=False, **kw)
    assert fast.devfun.fast is not None and slow.devfun.fast is None
    return slow, fast


@pytest.mark.parametrize("formula, slope, family", [
    ("y ~ x + (1 | g)", False, "binomial"),
    ("y ~ x + (1 + x | g)", True, "binomial"),
    ("y ~ x + (1 | g)", False, "poisson"),
    ("y ~ x + (1 | g)", False, mlmkit.spec.families.binomial("probit")),
    ("y ~ 0 + (1 | g)", False, "binomial"),
    ("y ~ x + (1 | g) + (0 + x | g)", True, "binomial"),
])
def test_fast_path_gives_the_general_fit(monkeypatch, formula, slope, family):
    df = _data(slope=slope, family="poisson" if family == "poisson" else "binomial")
    slow, fast = _both(monkeypatch, formula, df, family)
    assert fast.loglik == pytest.approx(slow.loglik, abs=1e-7)
    np.testing.assert_allclose(fast.fixef, slow.fixef, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fast.theta, slow.theta, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fast.vcov)), np.sqrt(np.diag(slow.vcov)), rtol=1e-4)
    np.testing.assert_allclose(fast.ranef["g"].to_numpy(), slow.ranef["g"].to_numpy(), atol=1e-5)
    np.testing.assert_allclose(fast.fitted, slow.fitted, atol=1e-6)


def test_fast_path_with_weights_offset_and_agq(monkeypatch):
    df = _data(n=4000, groups=40)
    rng = np.random.default_rng(5)
    df["n"] = rng.integers(1, 5, len(df))
    df["m"] = rng.binomial(df["n"], 0.4)
    df["off"] = 0.1 * rng.standard_normal(len(df))
    for kw in ({"offset": "off"}, {"nAGQ": 5}):
        slow, fast = _both(monkeypatch, "cbind(m, n - m) ~ x + (1 | g)", df, "binomial", **kw)
        monkeypatch.setattr(mlmkit.engine.onefactor, "MIN_ROWS", 20_000)
        assert fast.loglik == pytest.approx(slow.loglik, abs=1e-7)
        np.testing.assert_allclose(fast.fixef, slow.fixef, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("slope", [False, True])
def test_analytic_gradient_matches_differences(monkeypatch, slope):
    monkeypatch.setattr(mlmkit.engine.onefactor, "MIN_ROWS", 0)
    df = _data(slope=slope)
    gd = glmer_design("y ~ x + (1 + x | g)" if slope else "y ~ x + (1 | g)", df, "binomial")
    f = GlmerDevFun(gd.design, gd.response)
    assert f.has_gradient
    k = gd.design.n_theta
    x = np.r_[[0.7, 0.1, 0.35][:k], -0.25, 0.45]
    g = f.gradient(x)
    d = 1e-5
    fd = np.array([(f(x + d * e) - f(x - d * e)) / (2 * d) for e in np.eye(len(x))])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-5)


def test_fast_mode_equals_general_pirls(monkeypatch):
    df = _data(slope=True)
    gd = glmer_design("y ~ x + (1 + x | g)", df, "binomial")
    slow = GlmerDevFun(gd.design, gd.response)
    monkeypatch.setattr(mlmkit.engine.onefactor, "MIN_ROWS", 0)
    fast = GlmerDevFun(gd.design, gd.response)
    for theta in ([0.8, 0.0, 0.4], [0.3, -0.2, 0.1]):
        a, b = slow.pirls(np.array(theta)), fast.pirls(np.array(theta))
        np.testing.assert_allclose(b.beta, a.beta, rtol=1e-7)
        np.testing.assert_allclose(b.eta, a.eta, atol=1e-7)
        assert fast.laplace(b) == pytest.approx(slow.laplace(a), abs=1e-7)


def test_dense_crossed_reduction_matches_pair_incidence(monkeypatch):
    rng = np.random.default_rng(7)
    n, A, B = 6000, 120, 40
    a, b = rng.integers(0, A, n), rng.integers(0, B, n)
    x = rng.standard_normal(n)
    y = 1 + 0.5 * x + rng.normal(0, 0.7, A)[a] + rng.normal(0, 0.5, B)[b] + rng.standard_normal(n)
    df = pd.DataFrame({"y": y, "x": x, "a": a, "b": b})
    ref = mlmkit.lmer("y ~ x + (1 | a) + (1 | b)", df)
    assert not isinstance(ref.devfun.system.crossed, mlmkit.engine.crossed.DenseCross)
    monkeypatch.setattr(mlmkit.engine.crossed, "MAX_PAIRS", 0)
    m = mlmkit.lmer("y ~ x + (1 | a) + (1 | b)", df)
    assert isinstance(m.devfun.system.crossed, mlmkit.engine.crossed.DenseCross)
    assert m.reml_criterion == pytest.approx(ref.reml_criterion, abs=1e-8)
    np.testing.assert_allclose(m.theta, ref.theta, rtol=1e-6)
    np.testing.assert_allclose(m.fixef, ref.fixef, rtol=1e-8)
    grad_dense = m.devfun.gradient(m.theta)
    grad_pairs = ref.devfun.gradient(m.theta)
    np.testing.assert_allclose(grad_dense, grad_pairs, rtol=1e-8, atol=1e-8)
