"""Tests of mlmkit.plots: the numbers each figure draws, and lme4's conditional variances."""
import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402

from mlmkit import datasets, plots  # noqa: E402
from mlmkit.errors import DataError, ParameterError  # noqa: E402
from mlmkit.glmm import glmer  # noqa: E402
from mlmkit.lmm import lmer  # noqa: E402

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((Path(__file__).parent / "reference" / "condvar.json").read_text())


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def sleep():
    return pd.read_csv(DATA / "sleepstudy.csv", dtype={"Subject": str})


@pytest.fixture(scope="module")
def m_sleep(sleep):
    return lmer("Reaction ~ Days + (Days | Subject)", sleep)


FACTORS = {"cbpp": {"herd": str, "period": str}}      # factors in R, numbers in the CSV


def _fit(name):
    spec = REFERENCE["models"][name]
    if spec["data"] in datasets.available():
        data = datasets.load(spec["data"])
    else:
        data = pd.read_csv(DATA / f"{spec['data']}.csv").astype(FACTORS.get(spec["data"], {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "glmer" in name:
            return glmer(spec["formula"], data, family="binomial")
        return lmer(spec["formula"], data)


# --------------------------------------------------------------------------------------------------
# condvar against lme4's ranef(condVar = TRUE)
@pytest.mark.parametrize("name", sorted(REFERENCE["models"]))
def test_condvar_matches_lme4(name):
    m = _fit(name)
    cv = plots.condvar(m)
    for group, ref in REFERENCE["models"][name]["groups"].items():
        assert sorted(m.ranef[group].index) == sorted(ref["levels"])
        assert len(cv[group]) == len(ref["postVar"])
        at = m.ranef[group].index.get_indexer(ref["levels"])          # R's level order may differ
        for got, want in zip(cv[group], ref["postVar"]):
            want = np.asarray(want, float)
            got = got[at]
            assert got.shape == want.shape
            # lmer's θ̂ agrees with lme4 to ~1e-6, glmer's (θ̂, β̂) to ~1e-4 (lme4 itself stores its PIRLS
            # state a little off its optimum: its own formula at fitted(m) differs by 3e-5)
            rtol = 1e-3 if "glmer" in name else 2e-5
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_condvar_equals_dense_posterior_covariance():
    """Brute force: σ² Λ (Λ'Z'ZΛ + I)⁻¹ Λ' with dense matrices, for a crossed model."""
    m = _fit("penicillin_crossed")
    d = m.design
    Z = np.column_stack([(t.codes[:, None] == np.arange(t.n_levels)).astype(float) for t in d.terms])
    lam = np.concatenate([np.full(t.n_levels, m.theta[t.theta_offset]) for t in d.terms])
    ZL = Z * lam
    post = m.sigma ** 2 * np.diag(lam) @ np.linalg.inv(ZL.T @ ZL + np.eye(len(lam))) @ np.diag(lam)
    got = np.concatenate([v[:, 0, 0] for g in m.ranef for v in plots.condvar(m)[g]])
    np.testing.assert_allclose(got, np.diag(post), rtol=1e-10)


def test_caterpillar_of_a_glmm_uses_its_conditional_sds():
    m = _fit("rats_glmer")
    ax = plots.caterpillar(m, level=0.95)
    sd = np.sqrt(plots.condvar(m)["batch"][0][:, 0, 0])
    order = np.argsort(m.ranef["batch"]["(Intercept)"].to_numpy(), kind="stable")
    bars = np.asarray(ax.containers[0].lines[2][0].get_segments())
    np.testing.assert_allclose(bars[:, 1, 0] - bars[:, 0, 0], 2 * 1.959963984540054 * sd[order])


def test_condvar_rejects_non_model():
    with pytest.raises(ParameterError, match="condvar needs a fitted"):
        plots.condvar(object())


# --------------------------------------------------------------------------------------------------
# shrinkage
def _segments(ax):
    (lc,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    return np.asarray(lc.get_segments())


def test_shrinkage_pairs_groups_by_label():
    flat = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"])
    multi = pd.Series([2.9, 1.5, 2.1], index=["c", "a", "b"])        # shuffled on purpose
    ax = plots.shrinkage(flat, multi, population=2.0)
    seg = _segments(ax)
    np.testing.assert_array_equal(seg[:, 0, 1], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(seg[:, 1, 1], [1.5, 2.1, 2.9])
    np.testing.assert_array_equal(seg[:, 0, 0], 0.0)
    np.testing.assert_array_equal(seg[:, 1, 0], 1.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["flat", "multilevel"]
    assert any(np.allclose(l.get_ydata(), 2.0) for l in ax.get_lines())


def test_shrinkage_draws_on_given_axes_with_sizes():
    fig, ax = plt.subplots()
    out = plots.shrinkage([0.1, 0.2], [0.15, 0.18], sizes=[10, 20], ax=ax)
    assert out is ax
    sizes = [c.get_sizes() for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(sizes[0], [75.0, 150.0])


@pytest.mark.parametrize("flat, multi, match", [
    ([1.0, 2.0], [1.0], "one per group"),
    (pd.Series([1.0, 2.0], index=["a", "b"]), pd.Series([1.0, 2.0], index=["a", "z"]), "different groups"),
    (np.ones((2, 2)), np.ones(2), "one-dimensional"),
])
def test_shrinkage_bad_input(flat, multi, match):
    with pytest.raises(DataError, match=match):
        plots.shrinkage(flat, multi)


# --------------------------------------------------------------------------------------------------
# group panels and fitted lines
def _label(ax):
    (text,) = ax.texts
    return text.get_text()


def test_group_panels_one_panel_per_group_with_its_data_and_lines(sleep, m_sleep):
    flat = pd.DataFrame({"(Intercept)": np.arange(18.0), "Days": np.ones(18)},
                        index=sorted(sleep["Subject"].unique()))
    axes = plots.group_panels(sleep, "Days", "Reaction", "Subject", lines={"flat": flat, "multilevel": m_sleep})
    assert len(axes) == 18
    assert [_label(a) for a in axes] == list(m_sleep.ranef["Subject"].index)
    k = 3
    lab = _label(axes[k])
    pts = axes[k].collections[0].get_offsets()
    own = sleep[sleep["Subject"] == lab]
    np.testing.assert_allclose(np.asarray(pts), own[["Days", "Reaction"]].to_numpy())
    flat_line, ml_line = axes[k].get_lines()
    np.testing.assert_allclose(flat_line.get_ydata(), [k + 0.0, k + 9.0])
    c = m_sleep.coef["Subject"].loc[lab]
    np.testing.assert_allclose(ml_line.get_ydata(), [c["(Intercept)"], c["(Intercept)"] + 9 * c["Days"]])


def test_group_panels_order_and_given_axes(sleep):
    fig, grid = plt.subplots(1, 3)
    axes = plots.group_panels(sleep, "Days", "Reaction", "Subject", order=["372", "308"], ax=grid)
    assert [_label(a) for a in axes] == ["372", "308"]
    assert axes[0] is grid[0]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x="Day"), DataError, "unknown column 'Day'"),
    (dict(order=["999"]), DataError, "not in the data"),
    (dict(lines={"flat": pd.DataFrame({"Days": [1.0]}, index=["308"])}), DataError, "no coefficients"),
    (dict(lines={"flat": [1, 2]}), ParameterError, "fitted model or a DataFrame"),
    (dict(ax=[None]), ParameterError, "needs 18 Axes"),
])
def test_group_panels_bad_input(sleep, kwargs, error, match):
    args = dict(x="Days", y="Reaction", group="Subject")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        plots.group_panels(sleep, **args)


def test_fitted_lines_from_model(m_sleep):
    ax = plots.fitted_lines(m_sleep, "Days")
    seg = _segments(ax)
    co = m_sleep.coef["Subject"]
    np.testing.assert_allclose(seg[:, 0], np.column_stack([np.zeros(18), co["(Intercept)"]]))
    np.testing.assert_allclose(seg[:, 1], np.column_stack([np.full(18, 9.0), co["(Intercept)"] + 9 * co["Days"]]))
    (pop,) = ax.get_lines()
    b = m_sleep.fixef
    np.testing.assert_allclose(pop.get_ydata(), [b["(Intercept)"], b["(Intercept)"] + 9 * b["Days"]])


def test_fitted_lines_intercept_only_table_and_xlim():
    table = pd.DataFrame({"(Intercept)": [1.0, 2.0]}, index=["a", "b"])
    ax = plots.fitted_lines(table, "x", xlim=(0, 4), population=(0.0, 1.0))
    seg = _segments(ax)
    np.testing.assert_allclose(seg[:, :, 1], [[1.0, 1.0], [2.0, 2.0]])     # slope column absent: flat lines
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.0, 4.0])
    with pytest.raises(ParameterError, match="give xlim"):
        plots.fitted_lines(table, "x")


# --------------------------------------------------------------------------------------------------
# random-effects contour
def test_ranef_contour_ellipses_hold_their_probability(m_sleep):
    probs = (0.5, 0.95)
    ax = plots.ranef_contour(m_sleep, probs=probs)
    vc = m_sleep.varcorr
    s0, s1, r = vc["sdcor"].iloc[:3]
    Sigma = np.array([[s0 ** 2, r * s0 * s1], [r * s0 * s1, s1 ** 2]])
    centre = m_sleep.fixef.to_numpy()
    for line, p in zip(ax.get_lines(), probs):
        xy = np.column_stack([line.get_xdata(), line.get_ydata()]) - centre
        d2 = np.einsum("ij,jk,ik->i", xy, np.linalg.inv(Sigma), xy)
        np.testing.assert_allclose(d2, scipy.stats.chi2.ppf(p, 2), rtol=1e-9)
    pts = ax.collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(pts), m_sleep.coef["Subject"].to_numpy())


def test_ranef_contour_uncorrelated_terms_and_ranef_scale(sleep):
    m = lmer("Reaction ~ Days + (Days || Subject)", sleep)
    ax = plots.ranef_contour(m, points="ranef", probs=(0.8,))
    xy = np.column_stack([ax.get_lines()[0].get_xdata(), ax.get_lines()[0].get_ydata()])
    sd = m.varcorr["sdcor"].to_numpy()[:2]
    np.testing.assert_allclose(((xy / sd) ** 2).sum(axis=1), scipy.stats.chi2.ppf(0.8, 2), rtol=1e-9)
    np.testing.assert_allclose(np.asarray(ax.collections[0].get_offsets()), m.ranef["Subject"].to_numpy())


@pytest.mark.parametrize("kwargs, match", [
    (dict(group="Sub"), "not a grouping factor"),
    (dict(columns=("Days", "X")), "must name two random effects"),
    (dict(points="both"), "'coef' or 'ranef'"),
    (dict(probs=(0.5, 1.0)), "strictly between 0 and 1"),
])
def test_ranef_contour_bad_input(m_sleep, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        plots.ranef_contour(m_sleep, **kwargs)


def test_ranef_contour_needs_two_effects(sleep):
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep)
    with pytest.raises(ParameterError, match="a contour needs two"):
        plots.ranef_contour(m)


# --------------------------------------------------------------------------------------------------
# caterpillar
def test_caterpillar_intervals_are_conditional_sds(m_sleep):
    axes = plots.caterpillar(m_sleep, level=0.9)
    assert len(axes) == 2
    re = m_sleep.ranef["Subject"]
    sd = np.sqrt(np.diagonal(plots.condvar(m_sleep)["Subject"][0], axis1=1, axis2=2))
    order = np.argsort(re["(Intercept)"].to_numpy())
    z = scipy.stats.norm.ppf(0.95)
    for j, a in enumerate(axes):
        bars = np.asarray(a.containers[0].lines[2][0].get_segments())
        np.testing.assert_allclose(bars[:, 0, 0], re.iloc[order, j] - z * sd[order, j])
        np.testing.assert_allclose(bars[:, 1, 0], re.iloc[order, j] + z * sd[order, j])
    assert [t.get_text() for t in axes[0].get_yticklabels()] == list(re.index[order])


def test_caterpillar_single_effect_returns_one_axes(sleep):
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep)
    fig, ax = plt.subplots()
    assert plots.caterpillar(m, ax=ax, sort=False) is ax


@pytest.mark.parametrize("kwargs, match", [
    (dict(level=1.5), "strictly between 0 and 1"),
    (dict(group="Days"), "not a grouping factor"),
])
def test_caterpillar_bad_input(m_sleep, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        plots.caterpillar(m_sleep, **kwargs)


# --------------------------------------------------------------------------------------------------
# residual diagnostics
def test_residual_diagnostics_panels(m_sleep):
    axes = plots.residual_diagnostics(m_sleep)
    assert len(axes) == 3
    r = m_sleep.residuals(type="pearson", scaled=True)
    np.testing.assert_allclose(np.asarray(axes[0].collections[0].get_offsets()),
                               np.column_stack([m_sleep.fitted, r]))
    qq = np.asarray(axes[1].collections[0].get_offsets())
    n = len(r)
    expected_x = scipy.stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)      # R's ppoints for n > 10
    np.testing.assert_allclose(qq[:, 0], expected_x)
    np.testing.assert_allclose(qq[:, 1], np.sort(r))
    qq_re = np.asarray(axes[2].collections[0].get_offsets())
    np.testing.assert_allclose(qq_re[:, 1], np.sort(m_sleep.ranef["Subject"]["(Intercept)"]))


def test_residual_diagnostics_small_sample_ppoints_and_axes(sleep):
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep[sleep["Subject"].isin(["308", "309", "310", "330"])])
    fig, grid = plt.subplots(1, 3)
    axes = plots.residual_diagnostics(m, ax=grid)
    assert axes[0] is grid[0]
    qq_re = np.asarray(axes[2].collections[0].get_offsets())
    np.testing.assert_allclose(qq_re[:, 0], scipy.stats.norm.ppf((np.arange(1, 5) - 0.375) / 4.25))
    with pytest.raises(ParameterError, match="needs 3 Axes"):
        plots.residual_diagnostics(m, ax=grid[:2])


# --------------------------------------------------------------------------------------------------
# re-exported from mlmkit.inference.profile
def test_plot_profile_is_reexported_and_draws_one_panel_per_parameter(sleep):
    import importlib
    profile = importlib.import_module("mlmkit.inference.profile")
    assert plots.plot_profile is profile.plot_profile
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep)
    prof = profile.profile(m)
    axes = plots.plot_profile(prof, which=["sd_(Intercept)|Subject", "sigma"])
    assert [a.get_title() for a in axes] == ["sd_(Intercept)|Subject", "sigma"]


def test_plot_power_curve_is_reexported_and_draws_the_table():
    import importlib
    assert plots.plot_power_curve is importlib.import_module("mlmkit.power").plot_power_curve
    table = pd.DataFrame({"n_clusters": [10, 20], "power": [0.4, 0.7], "lower": [0.3, 0.6], "upper": [0.5, 0.8]})
    ax = plots.plot_power_curve(table, target=0.8)
    (bars,) = ax.containers
    np.testing.assert_allclose(bars.lines[0].get_ydata(), [0.4, 0.7])
