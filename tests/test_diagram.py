"""Plate diagrams drawn from a formula (mlmkit.plots.model_diagram)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import mlmkit as mk  # noqa: E402
from mlmkit.diagram import diagram_spec  # noqa: E402
from mlmkit.errors import FormulaError, ParameterError  # noqa: E402


def _draw(what, **kw):
    fig, ax = plt.subplots()
    out = mk.plots.model_diagram(what, ax=ax, **kw)
    assert out is ax
    labels = [t.get_text() for t in ax.texts if t.get_gid() == "node-label"]
    kinds = [p.get_gid() for p in ax.patches if p.get_gid() in ("observed", "latent", "deterministic")]
    plates = [t.get_text() for t in ax.texts if t.get_gid() == "plate-label"]
    edges = sum(p.get_gid() == "edge" for p in ax.patches)
    title = ax.get_title()
    plt.close(fig)
    return labels, kinds, plates, edges, title


@pytest.mark.parametrize("formula, family, nodes, observed, plates, edges", [
    # rats: y, eta, beta, u_j, tau^2 (no sigma: binomial); tau->u, u->eta, beta->eta, eta->y
    ("cbind(m, n - m) ~ 1 + (1 | batch)", "binomial", 5, 1, 2, 4),
    # alcohol: + sigma^2 -> y
    ("alcohol ~ 1 + (1 | country)", "gaussian", 6, 1, 2, 5),
    # sleepstudy: x_i, two effects under one Sigma
    ("Reaction ~ Days + (Days | Subject)", "gaussian", 8, 2, 2, 8),
    # uncorrelated slopes: one tau^2 per effect
    ("Reaction ~ Days + (Days || Subject)", "gaussian", 9, 2, 2, 8),
    # crossed factors: a plate each
    ("y ~ x + (1 | a) + (1 | b)", "gaussian", 9, 2, 3, 8),
])
def test_the_seed_models_have_the_right_nodes_plates_and_edges(formula, family, nodes, observed, plates, edges):
    labels, kinds, plate_labels, n_edges, title = _draw(formula)
    assert len(labels) == len(kinds) == nodes
    assert kinds.count("observed") == observed and kinds.count("deterministic") == 1
    assert len(plate_labels) == plates and n_edges == edges
    assert f"{family}" in title
    assert ("$\\sigma^2$" in labels) == (family == "gaussian")


def test_correlated_effects_share_one_covariance_node():
    labels, *_ = _draw("Reaction ~ Days + (Days | Subject)")
    assert labels.count("$\\Sigma$") == 1 and "$u_{0j}$" in labels and "$u_{1j}$" in labels
    labels, *_ = _draw("Reaction ~ Days + (Days || Subject)")
    assert "$\\Sigma$" not in labels and "$\\tau^2_{0}$" in labels and "$\\tau^2_{1}$" in labels


def test_plates_name_the_grouping_factors():
    _, _, plates, _, _ = _draw("y ~ x + (1 | school/class)")
    assert any("school" in p and "class" not in p for p in plates)
    assert any("class:school" in p for p in plates)


def test_a_fitted_model_gives_its_formula_and_family():
    rats = mk.datasets.load("rats")
    g = mk.glmer("cbind(m, n - m) ~ 1 + (1 | batch)", rats, family="binomial")
    *_, title = _draw(g)
    assert title.startswith("cbind(m, n - m)") and "binomial, logit link" in title
    assert diagram_spec(g).family == "binomial"


def test_spec_reads_effects_and_correlation():
    spec = diagram_spec("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)")
    (g,) = spec.groups
    assert g.effects == ("(Intercept)", "Days") and not g.correlated and spec.predictors == ("Days",)


@pytest.mark.parametrize("bad, error, match", [
    ("y ~ x", FormulaError, "no random-effects term"),
    (42, ParameterError, "needs an lme4 formula string"),
])
def test_bad_input_gets_a_clear_error(bad, error, match):
    with pytest.raises(error, match=match):
        mk.plots.model_diagram(bad)


def test_unknown_family_is_refused():
    with pytest.raises(ParameterError, match="unknown family 'gamma'"):
        mk.plots.model_diagram("y ~ 1 + (1 | g)", family="gamma")
