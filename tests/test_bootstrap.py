"""Parametric bootstrap: simulate, refit, bootstrap and its percentile intervals."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlmkit.inference.bootstrap import (BootstrapResult, BootstrapWarning, _norm_inter, bootstrap, default_statistic,
                              refit, seed_sequence, simulate)
from mlmkit.errors import ParameterError
from mlmkit.glmm import glmer
from mlmkit.lmm import lmer
from mlmkit.inference.parameters import param_names
from reference_fits import ROOT

DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def dyestuff():
    return lmer("Yield ~ 1 + (1 | Batch)", pd.read_csv(DATA / "Dyestuff.csv"))


@pytest.fixture(scope="module")
def sleep():
    return lmer("Reaction ~ Days + (Days | Subject)", pd.read_csv(DATA / "sleepstudy.csv"))


@pytest.fixture(scope="module")
def cbpp():
    cb = pd.read_csv(DATA / "cbpp.csv", dtype={"herd": str, "period": str})
    return glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cb, family="binomial")


def test_simulate_layout_and_seeds(sleep):
    s = sleep.simulate(3, seed=42)
    assert s.shape == (180, 3) and list(s.columns) == ["sim_1", "sim_2", "sim_3"]
    pd.testing.assert_frame_equal(s, simulate(sleep, 3, seed=42))
    assert not np.allclose(s["sim_1"], s["sim_2"])
    assert not np.allclose(s, sleep.simulate(3, seed=43))
    # replicate b depends on (seed, b) only: the first column of a longer run is the same
    np.testing.assert_array_equal(sleep.simulate(5, seed=42)["sim_1"], s["sim_1"])


def test_marginal_simulation_has_the_model_covariance(dyestuff):
    """Var(y) = τ² + σ² and Cov(y_i, y_j) = τ² within a batch, 0 across batches (new random effects)."""
    y = dyestuff.simulate(4000, seed=1).to_numpy()
    tau2 = dyestuff.varcorr["vcov"].iloc[0]
    s2 = dyestuff.sigma ** 2
    C = np.cov(y)
    batch = dyestuff.design.terms[0].codes
    same = batch[:, None] == batch[None, :]
    diag = np.eye(len(batch), dtype=bool)
    # sampling error of a covariance from 4000 draws is about (τ² + σ²)·√(2/4000) ≈ 2% of it
    scale = tau2 + s2
    assert abs(C[diag].mean() - scale) < 0.03 * scale
    assert abs(C[same & ~diag].mean() - tau2) < 0.05 * scale
    assert abs(C[~same].mean()) < 0.03 * scale
    np.testing.assert_allclose(y.mean(axis=1), dyestuff.fixef.iloc[0], atol=5 * np.sqrt(scale / 4000))


def test_conditional_simulation_centres_on_fitted(sleep):
    y = sleep.simulate(2000, seed=3, use_re=True).to_numpy()
    err = y.mean(axis=1) - sleep.fitted
    assert np.abs(err).max() < 5 * sleep.sigma / np.sqrt(2000)
    assert abs(y.std(axis=1, ddof=1).mean() - sleep.sigma) < 0.03 * sleep.sigma


def test_glmer_simulation_is_proportions_of_trials(cbpp):
    s = cbpp.simulate(200, seed=5, use_re=True).to_numpy()
    trials = cbpp.trials[:, None]
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s * trials, np.round(s * trials), atol=1e-9)
    # binomial means: |mean − μ| within 5 standard errors √(μ(1−μ)/(n·200))
    mu = cbpp.fitted
    assert np.all(np.abs(s.mean(axis=1) - mu) < 5 * np.sqrt(mu * (1 - mu) / (cbpp.trials * 200)) + 1e-12)


def test_refit_recovers_the_fit_on_its_own_response(sleep):
    again = refit(sleep, sleep.design.y)
    np.testing.assert_allclose(again.theta, sleep.theta, atol=2e-5)
    np.testing.assert_allclose(again.fixef, sleep.fixef, rtol=1e-7)
    assert again.REML


def test_default_statistic_names_and_values(sleep):
    s = default_statistic(sleep)
    vn, fn = param_names(sleep)
    assert list(s.index) == vn + fn
    vc = sleep.varcorr["sdcor"].to_numpy()
    np.testing.assert_allclose(s.to_numpy()[:4], vc[[0, 2, 1, 3]], rtol=1e-12)
    np.testing.assert_allclose(s.to_numpy()[4:], sleep.fixef.to_numpy())


def test_bootstrap_replicates_and_interval(dyestuff):
    b = bootstrap(dyestuff, nsim=60, seed=7, progress=False)
    assert isinstance(b, BootstrapResult)
    assert b.replicates.shape == (60, 3) and b.n_failed == 0
    assert list(b.replicates.columns) == ["sd_(Intercept)|Batch", "sigma", "(Intercept)"]
    pd.testing.assert_series_equal(b.t0, default_statistic(dyestuff), check_names=False)
    ci = b.confint(level=0.9)
    assert list(ci.columns) == ["5 %", "95 %"]
    for col in b.replicates.columns:        # the interval brackets the replicates' middle
        t = b.replicates[col]
        assert ci.loc[col, "5 %"] < t.median() < ci.loc[col, "95 %"]
    again = bootstrap(dyestuff, nsim=60, seed=7, progress=False)
    pd.testing.assert_frame_equal(b.replicates, again.replicates)


def test_workers_give_the_same_replicates(dyestuff):
    stat = lambda fit: fit.fixef.iloc[0]                                   # noqa: E731 - cloudpickled
    one = bootstrap(dyestuff, stat, nsim=12, seed=3, progress=False)
    two = bootstrap(dyestuff, stat, nsim=12, seed=3, progress=False, n_jobs=2)
    pd.testing.assert_frame_equal(one.replicates, two.replicates)


@pytest.mark.parametrize("stat, names", [
    (lambda f: f.sigma, ["<lambda>"]),
    (lambda f: {"s": f.sigma, "b": f.fixef.iloc[0]}, ["s", "b"]),
    (lambda f: np.array([f.sigma, 1.0]), ["t1", "t2"]),
    (lambda f: f.fixef, ["(Intercept)"]),
])
def test_statistic_shapes(dyestuff, stat, names):
    b = bootstrap(dyestuff, stat, nsim=3, seed=1, progress=False)
    assert list(b.replicates.columns) == names


def test_failed_refits_are_counted(dyestuff):
    calls = {"n": 0}

    def stat(fit):
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise ParameterError("deliberate failure")
        return fit.sigma

    with pytest.warns(BootstrapWarning, match="2 of 6 bootstrap refits failed"):
        b = bootstrap(dyestuff, stat, nsim=6, seed=1, progress=False)
    assert b.n_failed == 2 and b.replicates.iloc[:, 0].isna().sum() == 2


REF = json.load(open(ROOT / "tests" / "reference" / "bootstrap.json"))


@pytest.mark.parametrize("case", REF, ids=lambda c: f"n{c['n']}")
def test_percentile_interpolation_matches_boot(case):
    out, _ = _norm_inter(np.array(case["t"]), np.array(case["alpha"]))
    np.testing.assert_allclose(out, case["out"], rtol=1e-13)


def test_interval_types(dyestuff):
    b = bootstrap(dyestuff, lambda f: f.sigma, nsim=40, seed=2, progress=False)
    perc, basic, norm = (b.confint(type=t) for t in ("perc", "basic", "norm"))
    t0 = b.t0.iloc[0]
    np.testing.assert_allclose(basic.to_numpy()[0], 2 * t0 - perc.to_numpy()[0][::-1])
    t = b.replicates.iloc[:, 0]
    np.testing.assert_allclose(norm.to_numpy()[0].mean(), 2 * t0 - t.mean())
    with pytest.raises(ParameterError, match="'perc', 'basic' or 'norm'"):
        b.confint(type="bca")
    with pytest.warns(BootstrapWarning, match="extreme order statistics"):
        b.confint(level=0.99)


@pytest.mark.parametrize("kwargs, match", [
    ({"nsim": 0}, "nsim must be a positive integer"), ({"nsim": 2.5}, "nsim"),
    ({"n_jobs": 0}, "n_jobs"), ({"statistic": "sigma"}, "statistic must be a function"),
    ({"seed": -1}, "seed must be"), ({"seed": "a"}, "seed must be"),
])
def test_bad_arguments(dyestuff, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        bootstrap(dyestuff, **{"nsim": 2, "progress": False, **kwargs})


def test_seed_sequence_accepts_generators():
    g = np.random.default_rng(5)
    ss = seed_sequence(g)
    assert isinstance(ss, np.random.SeedSequence)
    assert seed_sequence(ss) is ss
