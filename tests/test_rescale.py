"""Random slopes on badly scaled or uncentred covariates reach the model's optimum (mlmkit.spec.rescale).

References (tools/badly_scaled_reference.R, lme4 1.1-31): lme4 on the raw data stops short
(years: logLik −954.79 on a singular boundary), lme4 on a centred/scaled copy finds the optimum.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmkit
from mlmkit import datasets
from mlmkit.spec.design import lformula
from mlmkit.errors import ConvergenceWarning
from mlmkit.spec.rescale import ScaleWarning, check_scale_x, rescaled, term_maps, theta_from_rescaled

HERE = Path(__file__).parent
REF = json.loads((HERE / "reference" / "badly_scaled.json").read_text())
DATA = pd.read_csv(HERE / "data" / "badly_scaled.csv", dtype={"g": str})


@pytest.mark.parametrize("name", list(REF))
def test_reaches_the_optimum_lme4_misses(name):
    case = REF[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = mlmkit.lmer(case["formula"], DATA, REML=False)
    best = case["centred_ml"]["loglik"]
    assert m.loglik >= best - 1e-6
    assert case["lme4_ml"]["loglik"] < best - 1e-3          # lme4 on the raw data stops short


def test_estimates_map_back_to_the_original_units():
    case = REF["thousandths"]
    m = mlmkit.lmer(case["formula"], DATA, REML=False)
    sd_int, sd_slope, cor, sigma = case["centred_ml"]["sdcor"]
    vc = m.varcorr["sdcor"].to_numpy()
    # xk = 1000 x: the slope's sd in xk units is 1/1000 of the centred fit's; the rest is unchanged.
    np.testing.assert_allclose(vc, [sd_int, sd_slope / 1000, cor, sigma], rtol=1e-4)
    np.testing.assert_allclose(m.fixef["xk"] * 1000, case["centred_ml"]["fixef"]["xk"], rtol=1e-5)


def test_well_scaled_models_are_left_alone():
    d = lformula("Reaction ~ Days + (Days | Subject)", datasets.load("sleepstudy"))
    assert term_maps(d) is None


def test_years_are_centred_and_the_covariance_is_preserved():
    d = lformula("y ~ yr + (1 + yr | g)", DATA)
    maps = term_maps(d)
    assert maps is not None
    A = maps[0][0]
    assert A[0, 1] == pytest.approx(-DATA["yr"].mean() / DATA["yr"].std(ddof=0))
    f2 = mlmkit.lmm.mk_lmer_devfun(rescaled(d, maps), REML=False)
    theta_p = mlmkit.lmm.optimize_lmer(f2, check=False).theta
    theta = theta_from_rescaled(d, maps, theta_p)
    t = d.terms[0]
    lam, lam_p = t.lambda_block(theta), t.lambda_block(theta_p)
    np.testing.assert_allclose(lam @ lam.T, A @ lam_p @ lam_p.T @ A.T, rtol=1e-12)
    assert np.all(np.diag(lam) >= 0) and np.allclose(lam, np.tril(lam))
    # Z_t b = Z'_t b' for b = A b': the criterion is the same at corresponding θ.
    # On the uncentred design the criterion carries rounding of ~1e-10 relative through the Cholesky
    # factor (and ~1e-5 through the closed form of mlmkit.engine.profiled, one reason to optimise rescaled).
    f = mlmkit.lmm.mk_lmer_devfun(d, REML=False)
    assert f.criterion(f.factor(theta)) == pytest.approx(f2(theta_p), rel=1e-9)


@pytest.mark.parametrize("REML", [False, True])
def test_the_reported_criterion_is_the_original_designs(REML):
    m = mlmkit.lmer("y ~ yr + (1 + yr | g)", DATA, REML=REML)
    assert m.opt.fun == pytest.approx(m.devfun.criterion(m.devfun.factor(m.theta)), rel=1e-9)
    assert m.deviance == pytest.approx(m.opt.fun, rel=1e-9)


def test_uncorrelated_terms_are_scaled_not_centred():
    d = lformula("y2 ~ xk + (xk || g)", DATA)
    maps = term_maps(d)
    assert maps is not None
    for A in maps[0]:
        assert np.allclose(A, np.diag(np.diag(A)))


def test_lme4s_scale_advice_for_the_fixed_part():
    X = np.column_stack([np.ones(50), np.linspace(0, 1, 50), np.linspace(0, 5000, 50)])
    with pytest.warns(ScaleWarning, match="very different scales"):
        check_scale_x(X, ["(Intercept)", "a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_scale_x(X[:, :2], ["(Intercept)", "a"])


def test_refit_ml_of_a_reml_fit_takes_the_same_route():
    m = mlmkit.lmer("y ~ yr + (1 + yr | g)", DATA)
    ml = m.refit_ml()
    assert ml.loglik >= REF["years"]["centred_ml"]["loglik"] - 1e-6
