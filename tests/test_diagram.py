"""mlmkit.diagram / plots.model_diagram: the drawn artists of plate diagrams."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

import mlmkit as mk  # noqa: E402
from mlmkit.errors import FamilyError, FormulaError, ParameterError  # noqa: E402


def _draw(model, **kw):
    fig, ax = plt.subplots()
    out = mk.plots.model_diagram(model, ax=ax, **kw)
    assert out is ax
    return ax


def _gids(ax, prefix):
    return {p.get_gid()[len(prefix):]: p for p in ax.patches if (p.get_gid() or "").startswith(prefix)}


def _texts(ax, prefix):
    return {t.get_gid()[len(prefix):]: t.get_text() for t in ax.texts if (t.get_gid() or "").startswith(prefix)}


def _inside(inner, outer):
    a, b = inner.get_bbox(), outer.get_bbox()
    return a.x0 > b.x0 and a.x1 < b.x1 and a.y0 > b.y0 and a.y1 < b.y1


def _node_in(node, plate):
    (x, y), b = node.center, plate.get_bbox()
    return b.x0 < x < b.x1 and b.y0 < y < b.y1


def test_rats_binomial():
    ax = _draw("cbind(m, n - m) ~ 1 + (1|batch)")
    nodes, plates, edges = _gids(ax, "node:"), _gids(ax, "plate:"), _gids(ax, "edge:")
    assert set(nodes) == {"y", "beta", "b1", "tau1"}                 # no sigma for a binomial response
    assert set(plates) == {"obs", "g1"}
    assert set(edges) == {"beta->y", "tau1->b1", "b1->y"}
    assert to_rgba(nodes["y"].get_facecolor()) == to_rgba(mk.diagram.OBSERVED_FACE)
    assert all(to_rgba(nodes[k].get_facecolor()) == to_rgba("white") for k in ("beta", "b1", "tau1"))
    assert _node_in(nodes["y"], plates["obs"]) and _node_in(nodes["b1"], plates["g1"])
    assert not _node_in(nodes["tau1"], plates["g1"]) and not _node_in(nodes["beta"], plates["obs"])
    labels = _texts(ax, "nodelabel:")
    assert labels["y"] == "$y_i$" and labels["b1"] == "$b_{j}$" and labels["tau1"] == r"$\tau_{b}$"
    assert "binomial" in _texts(ax, "family")[""] and "logit" in _texts(ax, "family")[""]
    assert "batch" in _texts(ax, "platelabel:")["g1"]
    assert _texts(ax, "caption:")["y"].startswith("m of n")
    # arrows point from parent to child: the arrow to y ends next to y
    start, end = (np.asarray(p) for p in edges["b1->y"]._posA_posB)
    assert np.hypot(*(end - nodes["y"].center)) == pytest.approx(nodes["y"].radius)
    assert np.hypot(*(start - nodes["b1"].center)) == pytest.approx(nodes["b1"].radius)


def test_alcohol_gaussian_has_sigma_and_sizes_with_data():
    data = mk.datasets.load("alcohol")
    ax = _draw("alcohol ~ 1 + (1|country)", data=data)
    nodes, edges = _gids(ax, "node:"), _gids(ax, "edge:")
    assert set(nodes) == {"y", "beta", "sigma", "b1", "tau1"}
    assert "sigma->y" in edges
    plates = _texts(ax, "platelabel:")
    assert f"n = {len(data)}" in plates["obs"]
    assert f"J = {data['country'].nunique()}" in plates["g1"]
    assert "gaussian" in _texts(ax, "family")[""]


def test_correlated_slope_is_one_vector_node_with_sigma_matrix():
    ax = _draw("Reaction ~ Days + (Days|Subject)")
    nodes = _gids(ax, "node:")
    assert set(nodes) == {"y", "beta", "sigma", "b1", "Sigma1"}
    assert _texts(ax, "nodelabel:")["b1"] == r"$\mathbf{b}_{j}$"
    assert _texts(ax, "caption:")["b1"] == "(Intercept), Days"
    assert _texts(ax, "caption:")["beta"] == "(Intercept), Days"
    assert len(_gids(ax, "plate:")) == 2


def test_uncorrelated_slope_two_nodes_two_taus_one_plate():
    ax = _draw("Reaction ~ Days + (Days||Subject)")
    nodes, plates, edges = _gids(ax, "node:"), _gids(ax, "plate:"), _gids(ax, "edge:")
    assert {"b1", "b2", "tau1", "tau2"} <= set(nodes) and not any(k.startswith("Sigma") for k in nodes)
    assert set(plates) == {"obs", "g1"}
    assert _node_in(nodes["b1"], plates["g1"]) and _node_in(nodes["b2"], plates["g1"])
    assert {"tau1->b1", "tau2->b2", "b1->y", "b2->y"} <= set(edges)


def test_nested_plate_inside_parent():
    ax = _draw("strength ~ 1 + (1|batch/cask)")
    nodes, plates = _gids(ax, "node:"), _gids(ax, "plate:")
    assert set(plates) == {"obs", "g1", "g2"}
    labels = _texts(ax, "platelabel:")
    assert labels["g1"].startswith("batch") and labels["g2"].startswith("cask:batch")
    assert _inside(plates["g2"], plates["g1"])
    assert _node_in(nodes["b2"], plates["g2"]) and not _node_in(nodes["b1"], plates["g2"])


def test_crossed_plates_do_not_overlap():
    ax = _draw("diameter ~ 1 + (1|plate) + (1|sample)")
    plates = _gids(ax, "plate:")
    assert set(plates) == {"obs", "g1", "g2"}
    a, b = plates["g1"].get_bbox(), plates["g2"].get_bbox()
    assert a.x1 < b.x0 or b.x1 < a.x0


def test_fitted_model_gives_family_and_formula():
    m = mk.glmer("cbind(m, n - m) ~ 1 + (1 | batch)", mk.datasets.load("rats"), family="binomial")
    ax = _draw(m)
    assert "binomial" in _texts(ax, "family")[""]
    assert "sigma" not in _gids(ax, "node:")


def test_bad_input():
    with pytest.raises(FormulaError):
        mk.plots.model_diagram("y ~ x")                         # no random term
    with pytest.raises(FormulaError):
        mk.plots.model_diagram("y ~ 1 + (1 | g")                # unbalanced parenthesis
    with pytest.raises(FamilyError):
        mk.plots.model_diagram("y ~ 1 + (1|g)", family="gamma")
    with pytest.raises(ParameterError):
        mk.plots.model_diagram(42)
