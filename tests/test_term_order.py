"""lme4's order and names of random-effect terms (tests/reference/term_order.json, tools/term_order_reference.R)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmkit

HERE = Path(__file__).parent
REF = json.loads((HERE / "reference" / "term_order.json").read_text())
DATA = pd.read_csv(HERE / "data" / "term_order.csv")


@pytest.fixture(scope="module")
def fits():
    return {name: mlmkit.lmer(case["formula"], DATA, warn=False) for name, case in REF.items()}


@pytest.mark.parametrize("name", list(REF))
def test_varcorr_rows_in_lme4s_order(fits, name):
    vc = fits[name].varcorr
    assert vc["grp"].tolist() == REF[name]["grp"]
    assert vc["var1"].fillna("").tolist() == REF[name]["var1"]
    np.testing.assert_allclose(vc["sdcor"], REF[name]["sdcor"], rtol=2e-3, atol=1e-3)


@pytest.mark.parametrize("name", list(REF))
def test_theta_in_lme4s_order(fits, name):
    m = fits[name]
    assert m.reml_criterion == pytest.approx(REF[name]["reml"], abs=1e-6) or m.reml_criterion < REF[name]["reml"]
    np.testing.assert_allclose(m.theta, REF[name]["theta"], atol=2e-3)


@pytest.mark.parametrize("name", list(REF))
def test_ranef_factors_in_lme4s_order(fits, name):
    assert list(fits[name].ranef) == REF[name]["ranef_names"]
