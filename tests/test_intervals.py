"""confint(): Wald intervals against lme4, row names, column labels, parameter selection, bad input."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlmkit.errors import ParameterError
from mlmkit.inference.parameters import check_level, percent_labels, resolve_parm
from mlmkit.lmm import lmer
from reference_fits import ROOT

REF = {c["id"]: c for c in json.load(open(ROOT / "tests" / "reference" / "profile.json"))}
SLEEP = pd.read_csv(ROOT / "tests" / "data" / "sleepstudy.csv")


@pytest.fixture(scope="module")
def sleep_fit():
    return lmer("Reaction ~ Days + (Days | Subject)", SLEEP)


def test_wald_matches_lme4(sleep_fit):
    case = REF["sleep_slope_wald"]
    ci = sleep_fit.confint(method="Wald")
    assert list(ci.index) == case["rownames"]
    lo = np.array([np.nan if v is None else v for v in case["lower"]], float)
    up = np.array([np.nan if v is None else v for v in case["upper"]], float)
    np.testing.assert_allclose(ci["2.5 %"].to_numpy(), lo, rtol=1e-7)      # NaN for the variance parameters
    np.testing.assert_allclose(ci["97.5 %"].to_numpy(), up, rtol=1e-7)
    assert ci.iloc[:4].isna().all().all()


@pytest.mark.parametrize("level, labels", [(0.95, ["2.5 %", "97.5 %"]), (0.9, ["5 %", "95 %"]),
                                           (0.99, ["0.5 %", "99.5 %"]), (0.999, ["0.05 %", "99.95 %"]),
                                           (0.8, ["10 %", "90 %"]), (0.683, ["15.8 %", "84.2 %"]),
                                           (0.97, ["1.5 %", "98.5 %"])])
def test_percent_labels_as_r(level, labels):
    # R: stats:::format.perc(c(a, 1 - a), 3) with a = (1 - level)/2
    assert percent_labels(level) == labels


def test_wald_width_scales_with_normal_quantile(sleep_fit):
    se = np.sqrt(np.diag(sleep_fit.vcov.to_numpy()))
    ci = sleep_fit.confint(parm="beta_", method="wald", level=0.9)
    assert list(ci.columns) == ["5 %", "95 %"]
    np.testing.assert_allclose((ci["95 %"] - ci["5 %"]).to_numpy(), 2 * 1.6448536269514722 * se, rtol=1e-12)


@pytest.mark.parametrize("parm, expected", [
    (None, [0, 1, 2, 3, 4, 5]), ("theta_", [0, 1, 2, 3]), ("beta_", [4, 5]), ("sigma", [3]),
    (["Days", "sigma"], [3, 5]), (["beta_", "sd_Days|Subject"], [2, 4, 5]),
])
def test_parameter_selection(parm, expected):
    vn = ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject", "sd_Days|Subject", "sigma"]
    assert resolve_parm(parm, vn, ["(Intercept)", "Days"]) == expected


def test_profile_subset_in_model_order(sleep_fit):
    ci = sleep_fit.confint(parm=["Days", "sigma"])
    assert list(ci.index) == ["sigma", "Days"]
    ref = REF["sleep_slope"]
    np.testing.assert_allclose(ci["2.5 %"].to_numpy(), np.array(ref["lower"])[[3, 5]], rtol=1e-6)


def test_unknown_parameter_lists_the_valid_ones(sleep_fit):
    with pytest.raises(ParameterError) as err:
        sleep_fit.confint(parm="sd_Day|Subject", method="Wald")
    msg = str(err.value)
    assert "'sd_Day|Subject'" in msg
    for name in ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject", "sd_Days|Subject", "sigma", "Days"]:
        assert repr(name) in msg


@pytest.mark.parametrize("level", [0, 1, 95, -0.5, 1.5, "0.95", True, float("nan")])
def test_level_outside_unit_interval_is_an_error(sleep_fit, level):
    with pytest.raises(ParameterError, match="level must be a number strictly between 0 and 1"):
        sleep_fit.confint(method="Wald", level=level)
    with pytest.raises(ParameterError):
        check_level(level)


def test_level_95_hint():
    with pytest.raises(ParameterError, match="write 0.95, not 95"):
        check_level(95)


def test_unknown_method(sleep_fit):
    with pytest.raises(ParameterError, match="'profile', 'Wald' or 'boot'"):
        sleep_fit.confint(method="bca")


def test_high_level_profiles_further():
    # Dyestuff has 3 parameters: lme4's default profile stops at |ζ| = √χ²₀.₉₉(3) = 3.37, short of
    # the 3.89 a 99.99% interval needs; confint raises the cut-off for such levels.
    m = lmer("Yield ~ 1 + (1 | Batch)", pd.read_csv(ROOT / "tests" / "data" / "Dyestuff.csv"))
    with pytest.warns(Warning, match="does not reach|did not reach"):
        short = m.profile(which="sigma").confint(level=0.9999)
    assert np.isnan(short.iloc[0, 0]) or short.iloc[0, 0] == 0.0
    ci = m.confint(parm="sigma", level=0.9999)
    wide = m.confint(parm="sigma", level=0.99)
    assert np.isfinite(ci.to_numpy()).all()
    assert 0 < ci.iloc[0, 0] < wide.iloc[0, 0] and ci.iloc[0, 1] > wide.iloc[0, 1]


def test_boot_method_layout(sleep_fit):
    ci = sleep_fit.confint(parm="beta_", method="boot", nsim=40, seed=11, level=0.8)
    assert list(ci.index) == ["(Intercept)", "Days"] and list(ci.columns) == ["10 %", "90 %"]
    est = sleep_fit.fixef
    assert np.all(ci["10 %"] < est) and np.all(est < ci["90 %"])
    again = sleep_fit.confint(parm="beta_", method="boot", nsim=40, seed=11, level=0.8)
    pd.testing.assert_frame_equal(ci, again)
