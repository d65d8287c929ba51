"""anova(): lme4's likelihood-ratio tables (tests/reference/anova.json, tools/anova_reference.R)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from mlmkit.inference.anova import REFIT_NOTE, AnovaTable, anova
from mlmkit.errors import DataError, ParameterError
from mlmkit.glmm import glmer
from mlmkit.lmm import lmer
from reference_fits import ROOT

CASES = json.load(open(ROOT / "tests" / "reference" / "anova.json"))
DATA = {"sleepstudy": pd.read_csv(ROOT / "tests" / "data" / "sleepstudy.csv"),
        "tutorial_slopes": pd.read_csv(ROOT / "tests" / "data" / "tutorial_slopes.csv"),
        "cbpp": pd.read_csv(ROOT / "tests" / "data" / "cbpp.csv", dtype={"herd": str, "period": str})}


def _fits(case):
    d = DATA[case["data"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {m["name"]: (glmer(m["formula"], d, family=case["family"]) if case["family"]
                            else lmer(m["formula"], d, REML=m["REML"])) for m in case["models"]}


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], float)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_anova_matches_lme4(case):
    fits = _fits(case)
    a = anova(**fits)
    assert isinstance(a, AnovaTable)
    assert list(a.index) == case["rownames"]                  # ordered by npar, as lme4
    assert list(a.columns) == ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"]
    np.testing.assert_array_equal(a["npar"].to_numpy(), _arr(case["npar"]))
    np.testing.assert_array_equal(a["Df"].to_numpy(), _arr(case["Df"]))
    # lmer: lme4's ML optima to ~1e-8.  glmer: the Laplace log-likelihoods of lme4 and mlmkit's glmer
    # differ by ~3e-4 on cbpp (lme4's PIRLS stops short; mlmkit's is larger, i.e. better).
    tol = 1e-3 if case["family"] else 1e-6
    for col, key in [("AIC", "AIC"), ("BIC", "BIC"), ("logLik", "logLik"), ("deviance", "deviance"),
                     ("Chisq", "Chisq")]:
        np.testing.assert_allclose(a[col].to_numpy(), _arr(case[key]), rtol=0, atol=tol * (2 if col != "logLik" else 1))
    np.testing.assert_allclose(a["Pr(>Chisq)"].to_numpy(), _arr(case["p"]), rtol=1e-4, atol=1e-300)
    refitted = any(m.get("REML") for m in case["models"])
    assert (REFIT_NOTE in a.heading) == refitted
    assert (REFIT_NOTE + "\n" in case["messages"]) == refitted
    if not case["family"]:                                    # the printed table, character for character
        n = len(a)
        assert a.to_text().splitlines() == case["printed"][-(n + 3):]
        assert repr(a).splitlines()[-(n + 3):] == case["printed"][-(n + 3):]


def test_positional_models_and_names():
    case = CASES[0]
    fits = list(_fits(case).values())
    a = anova(fits[1], fits[0])
    assert list(a.index) == ["m2", "m1"]                       # m2 (fewer parameters) first
    b = anova(fits[1], fits[0], names=["slope", "intercept"])
    assert list(b.index) == ["intercept", "slope"]
    np.testing.assert_allclose(a["Chisq"].to_numpy(), b["Chisq"].to_numpy(), equal_nan=True)
    assert b.heading == [REFIT_NOTE, "Models:", f"intercept: {fits[0].formula}", f"slope: {fits[1].formula}"]
    assert b.refitted == ["slope", "intercept"]


def test_table_is_a_dataframe():
    a = anova(**_fits(CASES[0]))
    assert a.loc["m1", "Df"] == 2
    assert np.isnan(a.loc["m0", "Chisq"])
    sub = a[["AIC", "BIC"]]
    assert isinstance(sub, pd.DataFrame)
    assert repr(sub) == repr(pd.DataFrame(sub))               # no lme4 layout for a part of the table
    assert "refitting" in a._repr_html_() and "<table" in a._repr_html_()


def test_no_refit_compares_reml_criteria():
    fits = _fits(CASES[0])
    a = anova(**fits, refit=False)
    assert REFIT_NOTE not in a.heading
    np.testing.assert_allclose(a["logLik"].to_numpy(), [m.loglik for m in fits.values()])


def test_different_data_sizes_are_an_error():
    d = DATA["sleepstudy"]
    m0 = lmer("Reaction ~ Days + (1 | Subject)", d)
    m1 = lmer("Reaction ~ Days + (1 | Subject)", d.iloc[:170])
    with pytest.raises(DataError, match="same size of data set.*m1 has 180 observations, m2 has 170"):
        anova(m0, m1)


def test_different_responses_are_an_error():
    d = DATA["sleepstudy"]
    d2 = d.assign(Reaction=d["Reaction"] + 1.0)
    with pytest.raises(DataError, match="different responses"):
        anova(lmer("Reaction ~ Days + (1 | Subject)", d), lmer("Reaction ~ 1 + (1 | Subject)", d2))


def test_lmer_and_glmer_cannot_be_compared():
    cb = DATA["cbpp"]
    g = glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", cb, family="binomial")
    m = lmer("incidence ~ 1 + (1 | herd)", cb, warn=False)
    with pytest.raises(DataError, match="linear mixed model"):
        anova(m, g)


@pytest.mark.parametrize("args, kwargs, match", [
    ((), {}, "two or more"), (("not a model", "x"), {}, "not a fitted mixed model"),
])
def test_bad_calls(args, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        anova(*args, **kwargs)


def test_names_must_match_models():
    fits = list(_fits(CASES[0]).values())
    with pytest.raises(ParameterError, match="names has 1 entries for 2 models"):
        anova(*fits, names=["a"])
