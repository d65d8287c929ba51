"""mlmkit.simulate: the tutorial's data to the digit, and the general simulator's design and truth."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from mlmkit import simulate
from mlmkit.errors import FamilyError, MlmkitError, ParameterError

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "reference" / "r_rng.json").read_text())

# ------------------------------------------------------------------------------------------------
# the tutorial designs: values exactly as printed in the tutorial (head and tail tables)
# ------------------------------------------------------------------------------------------------
DESIGNS = {
    "vc": lambda: simulate.variance_components(),
    "pred": lambda: simulate.level_predictors(),
    "slopes": lambda: simulate.random_slopes(),
    "slopes_cor": lambda: simulate.random_slopes(correlated=True),
}

COLUMNS = {
    "vc": ["y", "ID", "Cluster", "eij", "u0j", "g00"],
    "pred": ["y", "ID", "Cluster", "g00", "g01", "Z", "u0j", "B1", "X", "eij"],
    "slopes": ["y", "ID", "Cluster", "eij", "u0j", "g00", "u1j", "g01", "b0j", "b1j", "X", "yij"],
    "slopes_cor": ["y", "ID", "Cluster", "eij", "u0j", "g00", "u1j", "g01", "b0j", "b1j", "X", "yij"],
}

# (design, row, column, printed value, decimals printed) -- from the tutorial's head()/tail() output
PRINTED = [
    ("vc", 0, "y", -0.01799895, 8), ("vc", 1, "y", -1.55662749, 8), ("vc", 2, "y", 0.01846090, 8),
    ("vc", 0, "eij", 0.8483346, 7), ("vc", 0, "u0j", -2.866334, 6), ("vc", 994, "y", 5.947669, 6),
    ("vc", 999, "y", 3.980374, 6), ("vc", 999, "eij", -0.39853087, 8), ("vc", 999, "u0j", 2.378905, 6),
    ("pred", 0, "y", 0.3386258, 7), ("pred", 4, "y", -6.1649241, 7), ("pred", 0, "Z", 0.7056621, 7),
    ("pred", 0, "X", -0.3298603, 7), ("pred", 0, "eij", 0.4074142, 7), ("pred", 998, "y", 12.883061, 6),
    ("pred", 999, "y", 6.658694, 6), ("pred", 999, "Z", 1.09256, 5), ("pred", 999, "X", -0.18230970, 8),
    ("slopes", 0, "y", -2.3706838, 7), ("slopes", 4, "y", -11.4780445, 7),
    ("slopes", 0, "u1j", 0.7956791, 7), ("slopes", 0, "b0j", -0.8663336, 7),
    ("slopes", 0, "b1j", 5.795679, 6), ("slopes", 998, "y", 10.9822873, 7),
    ("slopes", 999, "y", 3.1699576, 7), ("slopes", 999, "u1j", 0.1576774, 7),
    ("slopes", 999, "b1j", 5.157677, 6),
]


@pytest.mark.parametrize("design,row,col,value,digits", PRINTED)
def test_tutorial_printed_values(design, row, col, value, digits):
    df = DESIGNS[design]()
    assert df[col].iloc[row] == pytest.approx(value, abs=0.6 * 10.0 ** -digits)


@pytest.mark.parametrize("design", DESIGNS)
def test_tutorial_columns_and_dtypes(design):
    df = DESIGNS[design]()
    assert list(df.columns) == COLUMNS[design]
    assert df.shape == (1000, len(COLUMNS[design]))
    assert df["ID"].dtype == np.int64 and df["ID"].tolist() == list(range(1, 1001))
    assert df["Cluster"].dtype == np.int64
    assert df["Cluster"].tolist() == [c for c in range(1, 21) for _ in range(50)]
    floats = [c for c in COLUMNS[design] if c not in ("ID", "Cluster")]
    assert all(df[c].dtype == np.float64 for c in floats)


@pytest.mark.parametrize("design", DESIGNS)
def test_tutorial_data_equal_r_bit_for_bit(design):
    """tests/data/tutorial_*.csv were written by R (tools/lme4_datasets.R) with 17 digits."""
    path = HERE / "data" / f"tutorial_{design}.csv"
    if not path.exists():
        pytest.skip(f"{path.name} not present")
    ref = pd.read_csv(path)
    df = DESIGNS[design]()
    # MASS::mvrnorm's eigenvectors come from LAPACK, which may differ in the last bit between LAPACK
    # builds (they agree exactly with R's reference LAPACK here); everything else must be exact.
    from_lapack = {"u0j", "u1j", "b0j", "b1j", "y"} if design == "slopes_cor" else set()
    for col in ref.columns:
        if col in from_lapack:
            np.testing.assert_allclose(df[col].to_numpy(), ref[col].to_numpy(), rtol=0, atol=1e-13)
        else:
            assert np.array_equal(df[col].to_numpy(), ref[col].to_numpy()), col


def test_variance_components_equals_rng_reference_exactly():
    assert simulate.variance_components()["y"].tolist() == REF["tutorial"]["variance_components_y"]


def test_correlated_random_effects_var_matches_tutorial():
    df = simulate.random_slopes(correlated=True)
    u = df.groupby("Cluster")[["u0j", "u1j"]].first().to_numpy()
    np.testing.assert_allclose(np.cov(u, rowvar=False),
                               [[5.458752, 1.287149], [1.287149, 3.161914]], atol=6e-7)
    np.testing.assert_allclose(np.corrcoef(u, rowvar=False)[0, 1], 0.3098185, atol=6e-8)


@pytest.mark.parametrize("design", DESIGNS)
def test_tutorial_structure_identities(design):
    df = DESIGNS[design]()
    per_cluster = df.groupby("Cluster")
    assert (per_cluster["u0j"].nunique() == 1).all()
    if design == "pred":
        assert (per_cluster["Z"].nunique() == 1).all()
        np.testing.assert_allclose(df.y, df.g00 + df.g01 * df.Z + df.u0j + df.B1 * df.X + df.eij)
    elif design == "vc":
        np.testing.assert_allclose(df.y, df.g00 + df.u0j + df.eij)
    else:
        np.testing.assert_allclose(df.y, df.b0j + df.b1j * df.X + df.eij)
        assert df["yij"].equals(df["y"])


def test_same_x_and_e_in_both_slope_designs():
    a, b = simulate.random_slopes(False), simulate.random_slopes(True)
    assert a["X"].equals(b["X"]) and a["eij"].equals(b["eij"])
    assert not a["u0j"].equals(b["u0j"])


def test_tutorial_arguments_change_the_design():
    df = simulate.variance_components(n_clusters=4, cluster_size=3, gamma00=10.0)
    assert df.shape == (12, 6) and df["Cluster"].tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert (df["g00"] == 10.0).all()
    # the first 4 cluster effects are R's first 4 draws of the same seed
    np.testing.assert_array_equal(df.groupby("Cluster")["u0j"].first().to_numpy(),
                                  simulate.variance_components()["u0j"].to_numpy()[[0, 50, 100, 150]])
    other = simulate.variance_components(seed_e=1)
    assert not other["eij"].equals(simulate.variance_components()["eij"])


@pytest.mark.parametrize("call,match", [
    (lambda: simulate.variance_components(n_clusters=0), "n_clusters"),
    (lambda: simulate.variance_components(cluster_size=2.5), "cluster_size"),
    (lambda: simulate.variance_components(tau2=-5), "tau2"),
    (lambda: simulate.level_predictors(sigma2=float("nan")), "sigma2"),
    (lambda: simulate.level_predictors(z_sd=-3), "z_sd"),
    (lambda: simulate.random_slopes(tau2_u1=-1), "tau2_u1"),
    (lambda: simulate.random_slopes(True, cov_u01=5), "positive"),
])
def test_tutorial_bad_parameters(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


# ------------------------------------------------------------------------------------------------
# the general simulator
# ------------------------------------------------------------------------------------------------
def eta_from_truth(df: pd.DataFrame) -> np.ndarray:
    """Rebuild the linear predictor from the data's predictors and df.attrs['truth']."""
    t = df.attrs["truth"]
    eta = np.zeros(len(df))
    for name, beta in t.fixed.items():
        term = np.ones(len(df))
        if name != "(Intercept)":
            for part in name.split(":"):
                term = term * df[part].to_numpy()
        eta += beta * term
    for level, terms in (("cluster", t.re_terms), ("upper", t.upper_terms)):
        if terms is None:
            continue
        re = t.ranef[level].loc[df[level]].to_numpy()
        for k, term in enumerate(terms):
            eta += re[:, k] * (1.0 if term == "(Intercept)" else df[term].to_numpy())
    return eta


@pytest.mark.parametrize("sizes,n_clusters,rows", [
    (7, 5, 35),
    ([1, 2, 3, 4], 4, 10),
    (np.array([5, 5, 6]), 3, 16),
])
def test_cluster_sizes(sizes, n_clusters, rows):
    df = simulate.multilevel(n_clusters, sizes, seed=1)
    assert len(df) == rows
    assert df["cluster"].tolist() == sorted(df["cluster"].tolist())
    counts = df.groupby("cluster").size().to_numpy()
    np.testing.assert_array_equal(counts, np.broadcast_to(sizes, (n_clusters,)))


def test_cluster_size_range():
    df = simulate.multilevel(500, (3, 8), seed=2)
    counts = df.groupby("cluster").size()
    assert counts.min() == 3 and counts.max() == 8 and len(counts) == 500
    assert set(counts.unique()) == set(range(3, 9))


def test_columns_dtypes_and_levels():
    df = simulate.multilevel(40, 10, fixed={"(Intercept)": 1, "x2": 1, "x1": 0.5, "z1": 2,
                                            "x1:z1": 0.3}, re_cov=[[1, 0.2], [0.2, 0.5]], seed=3)
    assert list(df.columns) == ["y", "x1", "x2", "z1", "cluster"]
    assert df["y"].dtype == np.float64 and df["cluster"].dtype == np.int64
    assert df["cluster"].min() == 1 and df["cluster"].max() == 40
    assert (df.groupby("cluster")["z1"].nunique() == 1).all()          # level-2: constant in cluster
    assert (df.groupby("cluster")["x1"].nunique() == 10).all()         # level-1: varies
    assert df.attrs["truth"].re_terms == ("(Intercept)", "x1")
    assert df.attrs["truth"].ranef["cluster"].shape == (40, 2)


def test_three_level_nesting():
    df = simulate.multilevel([2, 3, 4], 5, n_upper=3, fixed={"(Intercept)": 0, "w1": 1, "z1": 1},
                             re_cov=0.5, upper_cov=2.0, seed=4)
    assert list(df.columns) == ["y", "z1", "w1", "cluster", "upper"]
    assert len(df) == (2 + 3 + 4) * 5
    assert df.groupby("cluster")["upper"].nunique().max() == 1          # each class in one school
    np.testing.assert_array_equal(df.groupby("upper")["cluster"].nunique().to_numpy(), [2, 3, 4])
    assert df["cluster"].nunique() == 9                                  # cluster ids unique overall
    assert (df.groupby("upper")["w1"].nunique() == 1).all()
    assert set(df.attrs["truth"].ranef) == {"cluster", "upper"}


@pytest.mark.parametrize("family,kwargs", [
    ("gaussian", {"sigma2": 2.0}),
    ("binomial", {}),
    ("binomial", {"trials": 10}),
    ("binomial", {"link": "probit"}),
    ("poisson", {}),
])
def test_family_response_and_mean(family, kwargs):
    df = simulate.multilevel(2000, 50, fixed={"(Intercept)": 0.3, "x1": 0.4},
                             re_cov=[[0.3, 0.05], [0.05, 0.1]], family=family, seed=5, **kwargs)
    eta = eta_from_truth(df)
    y = df["y"].to_numpy()
    if family == "gaussian":
        resid = y - eta
        assert resid.mean() == pytest.approx(0, abs=0.01)
        assert resid.var() == pytest.approx(2.0, rel=0.02)
        assert abs(np.corrcoef(resid, df["x1"])[0, 1]) < 0.01
    elif family == "binomial":
        trials = kwargs.get("trials", 1)
        from scipy.special import ndtr
        p = ndtr(eta) if kwargs.get("link") == "probit" else expit(eta)
        assert y.min() >= 0 and y.max() <= trials and y.dtype == np.int64
        assert y.mean() == pytest.approx(trials * p.mean(), rel=0.01)
        assert ("trials" in df.columns) == (trials != 1)
    else:
        assert y.min() >= 0 and y.dtype == np.int64
        assert y.mean() == pytest.approx(np.exp(eta).mean(), rel=0.01)


def test_parameter_recovery_random_effects_and_fixed_effects():
    S = np.array([[2.0, 0.6], [0.6, 1.0]])
    df = simulate.multilevel(20000, 10, fixed={"(Intercept)": 2.0, "x1": 4.0, "z1": 3.0},
                             re_cov=S, sigma2=3.0, seed=6)
    u = df.attrs["truth"].ranef["cluster"].to_numpy()
    np.testing.assert_allclose(np.cov(u, rowvar=False), S, atol=0.06)
    # ordinary least squares on the fixed part is unbiased for the fixed effects
    X = np.column_stack([np.ones(len(df)), df["x1"], df["z1"]])
    beta = np.linalg.lstsq(X, df["y"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(beta, [2.0, 4.0, 3.0], atol=0.05)
    # total variance = var(u0) + var(u1) * var(x1) + sigma2 (+ fixed part)
    resid = df["y"].to_numpy() - X @ np.array([2.0, 4.0, 3.0])
    assert resid.var() == pytest.approx(2.0 + 1.0 + 3.0, rel=0.03)


def test_three_level_variance_recovery():
    df = simulate.multilevel(20, 5, n_upper=1000, re_cov=1.5, upper_cov=0.7, seed=7)
    t = df.attrs["truth"]
    assert t.ranef["upper"]["(Intercept)"].var() == pytest.approx(0.7, rel=0.1)
    assert t.ranef["cluster"]["(Intercept)"].var() == pytest.approx(1.5, rel=0.05)
    assert (df["y"] - eta_from_truth(df)).var() == pytest.approx(1.0, rel=0.02)


def test_singular_covariance_allowed():
    df = simulate.multilevel(300, 5, fixed={"x1": 1}, re_cov=[[1, 1], [1, 1]], seed=8)
    u = df.attrs["truth"].ranef["cluster"].to_numpy()
    np.testing.assert_allclose(u[:, 0], u[:, 1], atol=1e-12)


def test_seed_reproducible_and_generator_accepted():
    a = simulate.multilevel(10, 5, fixed={"x1": 1}, seed=9)
    b = simulate.multilevel(10, 5, fixed={"x1": 1}, seed=9)
    c = simulate.multilevel(10, 5, fixed={"x1": 1}, seed=10)
    d = simulate.multilevel(10, 5, fixed={"x1": 1}, seed=np.random.default_rng(9))
    assert a.equals(b) and a.equals(d) and not a.equals(c)


def test_inputs_not_mutated():
    S = np.array([[1.0, 0.2], [0.2, 0.5]])
    fixed = {"(Intercept)": 1, "x1": 2}
    sizes = [3, 4, 5]
    simulate.multilevel(3, sizes, fixed=fixed, re_cov=S, seed=11)
    assert S.tolist() == [[1.0, 0.2], [0.2, 0.5]]
    assert fixed == {"(Intercept)": 1, "x1": 2}
    assert sizes == [3, 4, 5]


def test_truth_survives_copies_and_concat():
    df = simulate.multilevel(5, 4, seed=12)
    truth = df.attrs["truth"]
    assert df.copy().attrs["truth"] is truth
    assert copy.deepcopy(df).attrs["truth"] is truth
    assert df[df["cluster"] > 2].attrs["truth"] is truth
    both = pd.concat([df, simulate.multilevel(5, 4, seed=13)], ignore_index=True)
    assert len(both) == 40                                    # no error from differing attrs
    assert pd.concat([df.iloc[:10], df.iloc[10:]]).attrs["truth"] is truth


@pytest.mark.parametrize("kwargs,error,match", [
    ({"n_clusters": 0}, ParameterError, "n_clusters"),
    ({"cluster_size": 0}, ParameterError, "cluster_size"),
    ({"cluster_size": [3, 4]}, ParameterError, "2 sizes but there are 20"),
    ({"cluster_size": [3, 0] * 10}, ParameterError, ">= 1"),
    ({"cluster_size": (5, 2)}, ParameterError, "min <= max"),
    ({"cluster_size": (1, 2, 3)}, ParameterError, "range"),
    ({"re_cov": -1.0}, ParameterError, "negative variance"),
    ({"re_cov": [[1, 2], [2, 1]], "fixed": {"x1": 1}}, ParameterError, "positive semi-definite"),
    ({"re_cov": [[1, 0.5], [0.1, 1]], "fixed": {"x1": 1}}, ParameterError, "symmetric"),
    ({"re_cov": [[1, 0], [0, 1]]}, ParameterError, "only 0 level-1 predictors"),
    ({"re_cov": 1.0, "re_terms": ["(Intercept)", "x1"]}, ParameterError, "2 x 2"),
    ({"re_cov": [[1, 0], [0, 1]], "re_terms": ["(Intercept)", "z1"]}, ParameterError, "random slope"),
    ({"sigma2": -1.0}, ParameterError, "sigma2"),
    ({"family": "binomial", "sigma2": 1.0}, ParameterError, "only to the gaussian"),
    ({"trials": 5}, ParameterError, "binomial"),
    ({"family": "gamma"}, FamilyError, "unknown family"),
    ({"family": "poisson", "link": "logit"}, FamilyError, "link"),
    ({"fixed": {"age": 1}}, ParameterError, "age"),
    ({"fixed": {"x1": float("inf")}}, ParameterError, "finite"),
    ({"fixed": {"w1": 1}}, ParameterError, "n_upper"),
    ({"upper_cov": 1.0}, ParameterError, "n_upper"),
    ({"n_upper": 3}, ParameterError, "upper_cov"),
    ({"n_upper": 0, "upper_cov": 1.0}, ParameterError, "n_upper"),
    ({"n_upper": 2, "n_clusters": [1, 2, 3], "upper_cov": 1.0}, ParameterError, "3 sizes"),
    ({"family": "poisson", "fixed": {"(Intercept)": 50}}, ParameterError, "overflow"),
])
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        simulate.multilevel(**kwargs)
    assert isinstance(info.value, MlmkitError)


def test_large_simulation_shape():
    """A million rows (vectorised; timing is checked in benchmarks, not here)."""
    df = simulate.multilevel(10_000, 100, fixed={"(Intercept)": 1, "x1": 1, "z1": 1},
                             re_cov=[[1, 0.2], [0.2, 0.3]], seed=14)
    assert df.shape == (1_000_000, 4)
    assert np.isfinite(df["y"]).all()
