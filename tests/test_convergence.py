"""Convergence honesty: a fit that stops short says so, the singular cutoff is lme4's, glmer power's df.

Each test would pass silently if the warning were switched off, the tolerance loosened, the cutoff
moved or the χ² degrees of freedom changed.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import chi2

import mlmkit
from mlmkit import datasets
from mlmkit.engine import glmer_fit, lmer_fit, optimize
from mlmkit.errors import ConvergenceWarning, SingularFitWarning
from mlmkit.lmm import OptResult, mk_lmer_devfun, mk_mer_mod
from mlmkit.spec.design import lformula


def _stopping_early(real, maxeval):
    def stopped(*args, **kwargs):
        kwargs["maxeval"] = maxeval
        return real(*args, **kwargs)
    return stopped


def test_check_conv_scales_by_the_cholesky_factor():
    # H = diag(100, 1), g = (1, 0): lme4's solve(chol(H), g) = (0.1, 0); solve(H, g) would give 0.01.
    H, g, free = np.diag([100.0, 1.0]), np.array([1.0, 0.0]), np.array([True, True])
    assert optimize.check_conv(g, H, free, tol=0.05)            # 0.1 > 0.05: not converged
    assert not optimize.check_conv(g, H, free, tol=0.2)
    assert "max|grad| = 0.1 " in optimize.check_conv(g, H, free, tol=0.05)[0]


def test_check_conv_leaves_out_parameters_on_their_bound():
    H, g = np.eye(2), np.array([5.0, 1e-6])
    x, lower = np.array([0.0, 1.0]), np.array([0.0, 0.0])
    free = optimize.free_parameters(x, lower)
    assert free.tolist() == [False, True]
    assert optimize.check_conv(g, H, free) == []
    assert optimize.check_conv(g, H, np.array([True, True]))   # the same gradient, unbounded: warns


def test_check_conv_flags_an_indefinite_hessian():
    msgs = optimize.check_conv(np.array([1e-6, 1e-6]), np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([True, True]))
    assert any("unidentifiable" in m for m in msgs)


def test_bobyqa_hands_the_objective_its_own_copy_of_x():
    # NLopt calls back with a view of its own buffer, freed when the run ends: an objective that keeps
    # x (glmer's warm start keeps θ and β) must still read the values it was called with afterwards.
    seen = []

    def fun(x):
        seen.append((x, x.tolist()))
        return float(((x - [1.0, 2.0]) ** 2).sum())

    x, nfev, _ = optimize.bobyqa(fun, [0.0, 0.0], [-5.0, -5.0])
    np.testing.assert_allclose(x, [1.0, 2.0], atol=1e-6)
    assert nfev == len(seen) > 2
    junk = [np.random.default_rng(k).random(2) for k in range(200)]   # reuse freed memory
    assert junk and all(kept.tolist() == values for kept, values in seen)
    assert len({kept.__array_interface__["data"][0] for kept, _ in seen}) == len(seen)


def test_lmer_warns_when_the_optimiser_stops_short(monkeypatch):
    monkeypatch.setattr(lmer_fit, "bobyqa", _stopping_early(optimize.bobyqa, 4))
    with pytest.warns(ConvergenceWarning, match="failed to converge"):
        m = mlmkit.lmer("Reaction ~ Days + (Days | Subject)", datasets.load("sleepstudy"), optimizer="bobyqa")
    assert m.opt.messages


def test_lmer_converged_fit_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mlmkit.lmer("Reaction ~ Days + (Days | Subject)", datasets.load("sleepstudy"))


def test_glmer_warns_when_the_optimiser_stops_short(monkeypatch):
    monkeypatch.setattr(glmer_fit, "bobyqa", _stopping_early(optimize.bobyqa, 3))
    monkeypatch.setattr(glmer_fit, "_newton", lambda fun, x, f0, lower, **kw: _no_newton(fun, x, f0, lower, **kw))
    with pytest.warns(ConvergenceWarning, match="failed to converge"):
        mlmkit.glmer("incidence ~ period + (1 | herd)", _cbpp_like(), family="poisson")


def _no_newton(fun, x, f0, lower, **kw):
    """The polishing Newton phase, reduced to its final Hessian (so the early stop is not repaired)."""
    return glmm_newton_original(fun, x, f0, lower, maxit=0, **{k: v for k, v in kw.items() if k != "maxit"})


glmm_newton_original = glmer_fit._newton


def _cbpp_like():
    rng = np.random.default_rng(3)
    import pandas as pd
    herd = np.repeat(np.arange(15), 4)
    period = np.tile(["1", "2", "3", "4"], 15)
    eta = 0.5 + rng.normal(0, 0.8, 15)[herd] - 0.4 * (period != "1")
    return pd.DataFrame({"incidence": rng.poisson(np.exp(eta)), "period": period, "herd": herd.astype(str)})


@pytest.mark.parametrize("theta, singular", [(5e-5, True), (2e-4, False), (0.0, True), (0.5, False)])
def test_is_singular_uses_lme4s_cutoff(theta, singular):
    d = lformula("Reaction ~ Days + (1 | Subject)", datasets.load("sleepstudy"))
    f = mk_lmer_devfun(d)
    m = mk_mer_mod(f, OptResult(theta=np.array([theta]), fun=f(np.array([theta])), nfev=0, message=""), warn=False)
    assert m.is_singular is singular


def test_singular_fit_warns():
    df = datasets.load("sleepstudy").assign(g=lambda x: (x.index % 3).astype(str))
    with pytest.warns(SingularFitWarning):
        mlmkit.lmer("Reaction ~ Days + (1 | g)", df)


def test_glmer_power_uses_one_degree_of_freedom_per_tested_effect():
    from mlmkit.power import _glmer_replicate, _scenario
    sim = dict(n_clusters=12, cluster_size=15, fixed={"(Intercept)": 0.0, "x1": 0.4}, re_cov=[[0.5]],
               family="binomial")
    sc = _scenario("y ~ x1 + (1 | cluster)", "x1", "lrt", sim, False, np.random.SeedSequence(5))
    y = np.asarray(sc.full.y, float) * sc.truth.trials
    p, _, _ = _glmer_replicate(sc, y)
    f1, f0 = sc.full, sc.null
    df = f1.npar - f0.npar
    assert df == 1
    lr = 2.0 * (f1.loglik - f0.loglik)
    assert p == pytest.approx(chi2.sf(lr, df), rel=1e-6)
    assert p != pytest.approx(chi2.sf(lr, 2), rel=1e-3)
