"""mlmkit.explore: the closed forms behind the explorers, and their callbacks driven like a slider would."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlmkit import explore
from mlmkit.errors import DataError, ParameterError


def _right_ends(ex):
    """Multilevel estimates drawn in the left panel: the right end of each group's line."""
    left = ex.figure.axes[0]
    return np.array([ln.get_ydata()[1] for ln in left.get_lines()[:-1]])   # last line: the mean


def _weights_drawn(ex):
    right = ex.figure.axes[1]
    return right.collections[0].get_offsets()[:, 1]


def test_shrinkage_weight_closed_form():
    lam = explore.shrinkage_weight(1.0, 4.0, [1, 4, 16])
    np.testing.assert_allclose(lam, [0.2, 0.5, 0.8])
    est = explore.shrunken_means([0.0, 10.0], [4, 16], 1.0, 4.0, mean=5.0)
    np.testing.assert_allclose(est, [5 - 0.5 * 5, 5 + 0.8 * 5])


def test_design_effect():
    np.testing.assert_allclose(explore.design_effect(0.1, [1, 11, 21]), [1.0, 2.0, 3.0])


def test_shrinkage_explorer_follows_its_sliders():
    means = pd.Series([2.0, 5.0, 9.0, 4.0], index=list("abcd"))
    sizes = pd.Series([20, 1, 4, 10], index=list("dbca"))        # another order: aligned on the index
    ex = explore.shrinkage(means, sizes, tau2=1.0, sigma2=4.0)
    n = sizes.reindex(means.index).to_numpy(float)
    mu = np.average(means, weights=n)
    lam = 1.0 / (1.0 + 4.0 / n)
    np.testing.assert_allclose(_right_ends(ex), mu + lam * (means.to_numpy() - mu))
    np.testing.assert_allclose(_weights_drawn(ex), lam)
    assert "ICC = 0.200" in ex.text

    text = ex.set(tau2=4.0, n_factor=2.0)
    lam2 = 4.0 / (4.0 + 4.0 / (2 * n))
    np.testing.assert_allclose(_right_ends(ex), mu + lam2 * (means.to_numpy() - mu))
    np.testing.assert_allclose(_weights_drawn(ex), lam2)
    assert "ICC = 0.500" in text and f"{lam2.max():.3f}" in text
    with pytest.raises(ParameterError, match="no slider named"):
        ex.set(tau=1.0)


def test_shrinkage_explorer_widget_callbacks():
    pytest.importorskip("ipywidgets")
    ex = explore.shrinkage([0.0, 10.0], [1, 9], tau2=1.0, sigma2=1.0, mean=5.0)
    png0 = ex.widget.children[1].value
    ex._sliders["sigma2"].value = 9.0                       # what moving the slider does
    assert ex.values["sigma2"] == 9.0
    lam = 1.0 / (1.0 + 9.0 / np.array([1.0, 9.0]))
    np.testing.assert_allclose(_right_ends(ex), 5.0 + lam * np.array([-5.0, 5.0]))
    assert ex.widget.children[1].value != png0               # the picture was redrawn
    assert "sigma2 = 9" in ex.widget.children[2].value
    ex.set(sigma2=1.0)                                       # and set() moves the slider
    assert ex._sliders["sigma2"].value == 1.0


def test_shrinkage_bad_input():
    with pytest.raises(DataError, match="one size per group"):
        explore.shrinkage([1.0, 2.0], [3], tau2=1, sigma2=1)
    with pytest.raises(DataError, match="positive"):
        explore.shrinkage([1.0, 2.0], [3, 0], tau2=1, sigma2=1)
    with pytest.raises(ParameterError, match="positive"):
        explore.shrinkage([1.0, 2.0], [3, 2], tau2=0, sigma2=1)


def test_display_bundle_is_deterministic_with_a_picture():
    a = explore.shrinkage([1.0, 3.0], [2, 5], tau2=0.5, sigma2=1.0)._repr_mimebundle_()
    b = explore.shrinkage([1.0, 3.0], [2, 5], tau2=0.5, sigma2=1.0)._repr_mimebundle_()
    assert a["text/plain"] == b["text/plain"] and "model_id" not in a["text/plain"]
    assert a["image/png"] and len(a["image/png"]) > 1000


def test_cluster_power_matches_simulated_t_tests():
    """The noncentral-t power equals the rejection rate of the t test on cluster means (balanced design)."""
    effect, icc, m, J, total = 0.4, 0.25, 6, 14, 2.0
    tau2, sigma2 = icc * total, (1 - icc) * total
    z = np.linspace(-1, 1, J)
    z = (z - z.mean()) / np.sqrt(np.mean((z - z.mean()) ** 2))    # standardised: sum of squares J
    rng = np.random.default_rng(1)
    nsim = 40_000
    means = effect * z + rng.normal(0, np.sqrt(tau2), (nsim, J)) + rng.normal(0, np.sqrt(sigma2 / m), (nsim, J))
    slope = means @ z / J
    resid = means - means.mean(axis=1, keepdims=True) - slope[:, None] * z
    se = np.sqrt((resid ** 2).sum(axis=1) / (J - 2) / J)
    reject = np.abs(slope / se) > stats.t.ppf(0.975, J - 2)
    p = float(explore.cluster_power(effect, icc, m, J, total))
    assert abs(reject.mean() - p) < 4 * np.sqrt(p * (1 - p) / nsim)
    assert 0.2 < p < 0.9                                         # a case where the test has teeth


def test_power_explorer_follows_its_sliders():
    ex = explore.power(effect=0.5, tau2=0.5, sigma2=1.0, cluster_size=10, n_clusters=20)
    # ICC 1/3, DEFF = 1 + 9/3 = 4, SE^2 = 1.5 * 4 / 200
    assert "= 4.000" in ex.text and "SE of the slope = 0.1732" in ex.text
    p20 = float(explore.cluster_power(0.5, 1 / 3, 10, 20, 1.5))
    assert f"power = {p20:.3f}" in ex.text
    marker = ex.figure.axes[0].get_lines()[1]
    assert marker.get_xdata()[0] == 20 and marker.get_ydata()[0] == pytest.approx(p20)

    ex.set(icc=0.0, n_clusters=40)                               # no clustering: DEFF 1, 400 independent units
    assert "design effect = 1 + (10 - 1) x 0.000 = 1.000" in ex.text and "count as 400.0" in ex.text
    p40 = float(explore.cluster_power(0.5, 0.0, 10, 40, 1.5))
    assert ex.figure.axes[0].get_lines()[1].get_ydata()[0] == pytest.approx(p40) and p40 > p20
    curve = ex.figure.axes[1].get_lines()[0].get_ydata()         # power against m is increasing
    assert np.all(np.diff(curve) >= -1e-12)


def test_power_bad_input():
    with pytest.raises(ParameterError, match="n_clusters at least 3"):
        explore.power(effect=0.5, tau2=0.5, sigma2=1.0, cluster_size=10, n_clusters=2)


def test_power_explorer_draws_simulated_points():
    sim = pd.DataFrame({"n_clusters": [10, 40], "power": [0.46, 0.93], "se": [0.05, 0.026]})
    ex = explore.power(effect=0.5, tau2=0.5, sigma2=1.0, cluster_size=10, n_clusters=20, simulated=sim)
    drawn = ex.figure.axes[0].containers[0].lines[0]             # the errorbar's data line
    np.testing.assert_allclose(np.asarray(drawn.get_xdata(), float), [10, 40])
    np.testing.assert_allclose(np.asarray(drawn.get_ydata(), float), [0.46, 0.93])
    with pytest.raises(DataError, match="columns n_clusters, power and se"):
        explore.power(effect=0.5, tau2=0.5, sigma2=1.0, cluster_size=10, n_clusters=20,
                      simulated=sim.drop(columns="se"))
