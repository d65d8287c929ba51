"""Batched deviance and the projected-Newton minimiser against the lmer engine's own numbers."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from mlmkit.engine import batchfit
from mlmkit.engine.batchfit import BatchDeviance, beta_parts, fast_refit, minimize_bounded
from mlmkit.lmm import lmer, mk_lmer_devfun
from reference_fits import ROOT

DATA = ROOT / "tests" / "data"


def _sleep_extra():
    d = pd.read_csv(DATA / "sleepstudy.csv")
    return d.assign(D2=d["Days"] ** 2 / 10.0, fD=(d["Days"] % 5).astype(str), g3=(np.arange(len(d)) % 7).astype(str))


MODELS = [
    ("Yield ~ 1 + (1 | Batch)", "Dyestuff.csv", "one"),                          # q = 1
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy.csv", "one"),             # q = 2
    ("Reaction ~ Days + (Days + D2 | Subject)", None, "one"),                    # q = 3 (general path)
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin.csv", "two"),      # crossed
    ("Reaction ~ Days + (Days | Subject) + (1 + Days | g3) + (1 | fD)", None, "two"),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes.csv", "two"),                    # nested
]


def _fit(formula, file):
    data = _sleep_extra() if file is None else pd.read_csv(DATA / file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lmer(formula, data)


@pytest.mark.parametrize("formula, file, mode", MODELS)
def test_batched_criteria_equal_the_engine(formula, file, mode, monkeypatch):
    m = _fit(formula, file)
    rng = np.random.default_rng(0)
    thetas = m.theta[None] + 0.3 * rng.standard_normal((5, len(m.theta))) * np.maximum(np.abs(m.theta), 0.2)
    thetas = np.maximum(thetas, m.design.theta_lower)
    ml = mk_lmer_devfun(m.design, REML=False)
    expected_reml = np.array([m.devfun(t) for t in thetas])
    expected_ml = np.array([ml(t) for t in thetas])
    bd = BatchDeviance(m.design.structure, m.design.X, m.design.y)
    assert bd._mode == mode
    np.testing.assert_allclose(bd.reml(thetas), expected_reml, rtol=1e-11)
    np.testing.assert_allclose(bd.ml(thetas), expected_ml, rtol=1e-11)
    if mode == "two":                         # the point-by-point fallback for large second blocks
        monkeypatch.setattr(batchfit, "_DENSE_BLOCK2_LIMIT", 0)
        loop = BatchDeviance(m.design.structure, m.design.X, m.design.y)
        assert loop._mode == "loop"
        np.testing.assert_allclose(loop.reml(thetas), expected_reml, rtol=1e-11)


def test_sigma_and_held_fixed_effect_deviances():
    m = _fit("Reaction ~ Days + (Days | Subject)", "sleepstudy.csv")
    bd = BatchDeviance(m.design.structure, m.design.X, m.design.y)
    th = np.vstack([m.theta, 1.3 * m.theta])
    ldL2, S = bd.schur(th)
    beta, r2, vjj = beta_parts(S)
    sig_ml = np.sqrt(r2 / bd.n)
    # d(θ, σ) at the σ that minimises it is the profiled ML deviance, and larger elsewhere
    np.testing.assert_allclose(bd.ml_sigma(th, sig_ml), bd.ml(th), rtol=1e-13)
    assert np.all(bd.ml_sigma(th, 1.1 * sig_ml) > bd.ml(th))
    # holding β_j at its conditional estimate changes nothing; elsewhere r² grows by (b − β̂_j)²/V_jj
    np.testing.assert_allclose(bd.ml_fixed(th[:1], 1, beta[0, 1]), bd.ml(th[:1]), rtol=1e-13)
    b = beta[0, 1] + 2.0
    r2j = r2[0] + 4.0 / vjj[0, 1]
    np.testing.assert_allclose(bd.ml_fixed(th[:1], 1, b)[0], ldL2[0] + bd.n * (1 + np.log(2 * np.pi * r2j / bd.n)),
                               rtol=1e-13)
    np.testing.assert_allclose(beta[0], m.fixef.to_numpy(), rtol=1e-10)


def _batch(f):
    return lambda X: np.array([f(x) for x in X])


@pytest.mark.parametrize("f, x0, lower, upper, expected", [
    # a quadratic whose minimum lies outside the box: the bound is active at the solution
    (lambda x: (x[0] - 3.0) ** 2 + 2.0 * (x[1] + 1.0) ** 2 + x[0] * x[1], [0.5, 0.5], [0, 0], [2, np.inf], [2.0, 0.0]),
    # Rosenbrock, unbounded
    (lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2, [-1.2, 1.0], [-np.inf] * 2, [np.inf] * 2, [1.0, 1.0]),
    # starting on a bound that is a stationary point but a maximum (a Λ diagonal at 0): leave it
    (lambda x: -x[0] ** 2 + x[0] ** 4 + (x[1] - 0.5) ** 2, [0.0, 0.0], [0, -np.inf], [np.inf] * 2,
     [np.sqrt(0.5), 0.5]),
])
def test_projected_newton(f, x0, lower, upper, expected):
    x, fx, calls = minimize_bounded(_batch(f), x0, lower, upper)
    np.testing.assert_allclose(x, expected, atol=1e-6)
    assert fx == pytest.approx(f(np.asarray(expected)), abs=1e-10)
    assert calls < 200


@pytest.mark.parametrize("formula, file, mode", MODELS[:4])
def test_fast_refit_reaches_the_engines_optimum(formula, file, mode):
    m = _fit(formula, file)
    rng = np.random.default_rng(1)
    for _ in range(3):
        y = m.fitted + m.sigma * rng.standard_normal(m.nobs)
        fast = fast_refit(m, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            engine = m.refit(y)
        assert fast.opt.fun <= engine.opt.fun + 1e-7
        # BOBYQA (the engine) stops once the criterion changes by < 1e-8; where it is that flat the
        # fixed effects of two equally good optima differ by up to ~2e-5 relative.
        np.testing.assert_allclose(fast.fixef, engine.fixef, rtol=5e-5, atol=1e-6 * m.sigma)
        ml = fast_refit(m, y, REML=False)
        assert not ml.REML and ml.deviance <= engine.refit_ml().deviance + 1e-7


def test_fast_refit_rejects_bad_responses():
    from mlmkit.errors import DataError
    m = _fit("Yield ~ 1 + (1 | Batch)", "Dyestuff.csv")
    with pytest.raises(DataError, match="30 values"):
        fast_refit(m, np.ones(29))
    with pytest.raises(DataError, match="missing or infinite"):
        fast_refit(m, np.r_[np.ones(29), np.nan])
