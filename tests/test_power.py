"""Power by simulation: reproducibility, size under H₀, agreement with the analytic power of a z test."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from mlmkit.engine.batchfit import BatchDeviance, beta_parts
from mlmkit.errors import ParameterError
from mlmkit.power import PowerCurve, PowerResult, _scenario, plot_power_curve, power, power_curve

RI = dict(cluster_size=10, re_cov=1.0, sigma2=2.0)


def test_reproducible_and_independent_of_workers():
    kw = dict(n_clusters=8, nsim=16, seed=4, progress=False, fixed={"x1": 0.3}, **RI)
    one = power("y ~ x1 + (1 | cluster)", "x1", **kw)
    again = power("y ~ x1 + (1 | cluster)", "x1", **kw)
    two = power("y ~ x1 + (1 | cluster)", "x1", n_jobs=2, **kw)
    np.testing.assert_array_equal(one.pvalues, again.pvalues)
    np.testing.assert_array_equal(one.pvalues, two.pvalues)
    np.testing.assert_array_equal(one.estimates, two.estimates)
    other = power("y ~ x1 + (1 | cluster)", "x1", **{**kw, "seed": 5})
    assert not np.array_equal(one.pvalues, other.pvalues)


def test_size_under_the_null():
    """With β = 0 the LRT rejects about 5% of the time (300 simulations: 15 ± 3.8 expected)."""
    r = power("y ~ x1 + (1 | cluster)", "x1", n_clusters=20, nsim=300, seed=11, progress=False,
              fixed={"(Intercept)": 1.0, "x1": 0.0}, **RI)
    assert r.failed.sum() == 0
    assert 0.02 <= r.power <= 0.09
    # the p-values of a valid test are uniform under H₀
    assert scipy.stats.kstest(r.pvalues, "uniform").pvalue > 0.001


def test_z_test_power_matches_the_analytic_power():
    """Held-fixed design: Var(β̂₁) = σ²[(X'V⁻¹X)⁻¹]₁₁ at the true θ, power ≈ Φ(|β|/SE − z) + Φ(−|β|/SE − z)."""
    args = dict(fixed={"(Intercept)": 1.0, "x1": 0.25}, **RI)
    r = power("y ~ x1 + (1 | cluster)", "x1", n_clusters=15, nsim=400, seed=2, method="z", progress=False, **args)
    sc = _scenario("y ~ x1 + (1 | cluster)", "x1", "z", dict(args, n_clusters=15), False,
                   np.random.SeedSequence(2).spawn(1)[0].spawn(2)[0])
    d = sc.design
    theta_true = np.array([np.sqrt(1.0 / 2.0)])
    S = BatchDeviance(d.structure, d.X, d.y).schur(theta_true[None])[1]
    se = np.sqrt(2.0 * beta_parts(S)[2][0, 1])
    z = scipy.stats.norm.ppf(0.975)
    expected = scipy.stats.norm.cdf(0.25 / se - z) + scipy.stats.norm.cdf(-0.25 / se - z)
    assert 0.3 < expected < 0.8                     # a test of the middle of the curve
    assert abs(r.power - expected) < 4 * np.sqrt(expected * (1 - expected) / 400)
    np.testing.assert_allclose(r.estimates.mean(), 0.25, atol=4 * se / np.sqrt(400))


def test_result_summaries():
    r = power("y ~ x1 + (1 | cluster)", "x1", n_clusters=6, nsim=40, seed=1, progress=False,
              fixed={"x1": 0.5}, **RI)
    assert isinstance(r, PowerResult) and r.nsim == 40
    assert r.power == pytest.approx(np.mean(r.pvalues < 0.05))
    assert r.se == pytest.approx(np.sqrt(r.power * (1 - r.power) / 40))
    lo, hi = r.ci()
    assert lo <= r.power <= hi
    text = repr(r)
    assert "Power for x1 (likelihood-ratio test, alpha = 0.05), 6 clusters" in text and "Monte Carlo SE" in text


def test_power_curve_table_and_plot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curve = power_curve("y ~ x1 + (1 | cluster)", "x1", [4, 8, 16], nsim=30, seed=3, progress=False,
                        fixed={"x1": 0.4}, **RI)
    assert isinstance(curve, PowerCurve)
    t = curve.table
    assert list(t.columns) == ["n_clusters", "power", "se", "lower", "upper", "nsim", "failed", "singular"]
    assert t["n_clusters"].tolist() == [4, 8, 16] and (t["nsim"] == 30).all()
    assert t["power"].iloc[-1] > t["power"].iloc[0]
    ax = plot_power_curve(curve)
    assert ax.get_xlabel() == "number of clusters" and len(ax.lines) >= 1
    plt.close("all")


def test_new_design_and_random_slope_model():
    r = power("y ~ x1 + (1 + x1 | cluster)", "x1", n_clusters=10, nsim=8, seed=9, progress=False, new_design=True,
              cluster_size=20, fixed={"(Intercept)": 2, "x1": 0.5}, re_cov=[[1.0, 0.0], [0.0, 0.3]], sigma2=1.0)
    assert r.failed.sum() == 0 and r.nsim == 8 and np.isfinite(r.pvalues).all()


def test_glmer_power_runs():
    r = power("y ~ x1 + (1 | cluster)", "x1", n_clusters=10, nsim=4, seed=1, progress=False, family="binomial",
              cluster_size=20, fixed={"x1": 1.0}, re_cov=0.5)
    assert r.failed.sum() == 0 and np.all((r.pvalues >= 0) & (r.pvalues <= 1))


@pytest.mark.parametrize("kwargs, match", [
    ({"test": "x2"}, "not a fixed effect.*'\\(Intercept\\)', 'x1'"),
    ({"alpha": 5}, "alpha"), ({"nsim": 0}, "nsim"), ({"method": "kr"}, "unknown test method"),
    ({"sigma": 2.0}, "unknown design argument"), ({"n_jobs": 0}, "n_jobs"),
    ({"re_cov": -1.0}, "re_cov has a negative variance"),
])
def test_bad_input(kwargs, match):
    args = dict(formula="y ~ x1 + (1 | cluster)", test="x1", n_clusters=5, nsim=2, progress=False,
                fixed={"x1": 0.3}, cluster_size=5, re_cov=1.0)
    args.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        power(**args)


def test_bad_cluster_counts():
    with pytest.raises(ParameterError, match="n_clusters must be a list"):
        power_curve("y ~ x1 + (1 | cluster)", "x1", [1, 5], nsim=2, progress=False, fixed={"x1": 0.3})
