"""Plate diagrams (Bayesian networks) of lme4-style models, drawn from the formula.

The picture the source tutorial draws for rats, alcohol and sleepstudy, for any formula
``response ~ fixed + (terms | group) + ...``:

* the observed response :math:`y_i` (shaded) in a plate ``i = 1..n`` with the observed predictors
  :math:`x_i` (shaded) and the linear predictor :math:`\\eta_i` (a diamond: computed, not random);
* per grouping factor a plate ``j = 1..J`` holding the group's random effects (one node per column of
  its terms, e.g. :math:`u_{0j}`, :math:`u_{1j}`), with its hyperparameter outside the plate: a
  variance :math:`\\tau^2` for one effect, a covariance matrix :math:`\\Sigma` for correlated effects,
  one :math:`\\tau^2` per effect for ``(x || g)``;
* the fixed effects :math:`\\beta` and, for a Gaussian model, the residual :math:`\\sigma^2`.

With one grouping factor the observation plate is drawn inside the group plate (observations are
nested in groups); with several, the group plates stand side by side and all feed :math:`\\eta_i`.
Only matplotlib is used (no Graphviz).  :func:`model_diagram` is re-exported as
``mlmkit.plots.model_diagram``.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import FormulaError, ParameterError
from .formula import parse_formula

__all__ = ["model_diagram", "diagram_spec", "DiagramSpec"]

_SHADE = "#cfd8e3"
_LINKS = {"binomial": "logit", "poisson": "log", "gaussian": "identity"}


@dataclass(frozen=True)
class GroupSpec:
    """One grouping factor: its name, effect labels and whether they are correlated."""
    name: str
    effects: tuple[str, ...]
    correlated: bool


@dataclass(frozen=True)
class DiagramSpec:
    """What the diagram shows, read from the formula (testable without drawing)."""
    response: str
    predictors: tuple[str, ...]
    groups: tuple[GroupSpec, ...]
    family: str

    @property
    def link(self) -> str:
        return _LINKS.get(self.family, "link")


def _columns(expr: str) -> list[str]:
    """Column names of a term's formula: ``1 + Days`` -> (Intercept), Days; ``0 + Days`` -> Days."""
    parts = [p.strip() for p in expr.replace("-", "+-").split("+") if p.strip()]
    intercept = not any(p in ("0", "-1") for p in parts)
    cols = ["(Intercept)"] if intercept else []
    return cols + [p for p in parts if p not in ("0", "1", "-1", "-0")]


def diagram_spec(model_or_formula, family: str | None = None) -> DiagramSpec:
    """The nodes and plates of the model's diagram (see the module docstring)."""
    formula = model_or_formula if isinstance(model_or_formula, str) else getattr(model_or_formula, "formula", None)
    if not isinstance(formula, str):
        raise ParameterError("model_diagram needs an lme4 formula string such as 'y ~ x + (1 | g)' or a fitted "
                             f"model, not {type(model_or_formula).__name__}")
    fam = getattr(model_or_formula, "family", None)
    if family is None:
        family = getattr(fam, "name", None) if fam is not None else None
    parsed = parse_formula(formula)
    if family is None:
        family = "binomial" if parsed.response.startswith("cbind(") else "gaussian"
    if family not in _LINKS:
        raise ParameterError(f"unknown family {family!r}: use 'gaussian', 'binomial' or 'poisson'")
    groups: dict[str, list] = {}
    for term in parsed.random:
        cols = _columns(term.expr)
        entry = groups.setdefault(term.group, [[], [], term.source])
        entry[0].extend(cols)
        entry[1].append(len(cols))
    specs = tuple(GroupSpec(name, tuple(cols), correlated=max(sizes) > 1)
                  for name, (cols, sizes, _) in groups.items())
    preds = tuple(c for c in _columns(parsed.fixed) if c != "(Intercept)")
    return DiagramSpec(parsed.response, preds, specs, family)


def _label(text: str) -> str:
    return text.replace("_", r"\_").replace("$", r"\$")


def _node(ax, xy, label, *, observed=False, diamond=False, r=0.32):
    from matplotlib.patches import Circle, RegularPolygon
    face = _SHADE if observed else "white"
    if diamond:
        patch = RegularPolygon(xy, 4, radius=r * 1.25, facecolor=face, edgecolor="black", lw=1.2)
    else:
        patch = Circle(xy, r, facecolor=face, edgecolor="black", lw=1.2)
    patch.set_gid("observed" if observed else "deterministic" if diamond else "latent")
    ax.add_patch(patch)
    ax.text(xy[0], xy[1], label, ha="center", va="center", fontsize=11, gid="node-label")
    return xy


def _arrow(ax, a, b, r=0.36):
    import numpy as np
    from matplotlib.patches import FancyArrowPatch
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = (b - a) / max(np.hypot(*(b - a)), 1e-9)
    ax.add_patch(FancyArrowPatch(tuple(a + r * d), tuple(b - r * d), arrowstyle="-|>", mutation_scale=12,
                                 lw=1.1, color="black", gid="edge"))


def _plate(ax, x0, y0, x1, y1, label, top=False):
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor="none", edgecolor="0.35", lw=1.1, gid="plate"))
    if top:
        ax.text(x0 + 0.08, y1 - 0.06, label, ha="left", va="top", fontsize=8, color="0.25", gid="plate-label")
    else:
        ax.text(x1 - 0.08, y0 + 0.06, label, ha="right", va="bottom", fontsize=8, color="0.25", gid="plate-label")


def _effect_symbol(k: int, many: bool) -> str:
    return rf"$u_{{{k}j}}$" if many else r"$u_{j}$"


def model_diagram(model_or_formula, ax=None, *, family: str | None = None):
    """Draw the plate diagram of an lme4-style model; returns the matplotlib Axes.

    Parameters
    ----------
    model_or_formula : str or fitted model
        ``"Reaction ~ Days + (Days | Subject)"``, or the result of ``mk.lmer`` / ``mk.glmer`` (its
        formula and family are used).
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.
    family : {"gaussian", "binomial", "poisson"}, optional
        For a formula: the response distribution (default gaussian, binomial for ``cbind(...)``).

    Raises
    ------
    FormulaError
        The formula has no random-effects term, e.g. ``model_diagram("y ~ x")``.
    """
    import matplotlib.pyplot as plt
    spec = diagram_spec(model_or_formula, family)
    if not spec.groups:
        raise FormulaError("a plate diagram needs a random-effects term such as (1 | group)",
                           getattr(model_or_formula, "formula", model_or_formula), "")
    if ax is None:
        _, ax = plt.subplots(figsize=(2.6 + 2.2 * len(spec.groups), 4.2))
    nested = len(spec.groups) == 1
    # observation plate, bottom centre: x_i -> eta_i -> y_i
    width = 3.2 + 2.4 * len(spec.groups)
    ox = width / 2
    y_obs, y_eta = 0.9, 2.1
    eta = _node(ax, (ox, y_eta), r"$\eta_i$", diamond=True)
    y = _node(ax, (ox, y_obs), rf"$y_i$", observed=True)
    _arrow(ax, eta, y)
    if spec.predictors:
        x = _node(ax, (ox - 1.2, y_eta), r"$x_i$", observed=True)
        _arrow(ax, x, eta)
    beta = _node(ax, (ox + 1.55, y_eta), r"$\beta$")
    _arrow(ax, beta, eta)
    if spec.family == "gaussian":
        sigma = _node(ax, (ox + 1.55, y_obs), r"$\sigma^2$")
        _arrow(ax, sigma, y)
    obs_box = (ox - (1.75 if spec.predictors else 0.7), 0.35, ox + 0.75, y_eta + 0.6)
    _plate(ax, *obs_box, r"$i = 1, \dots, n$")
    # group plates, above
    n_groups = len(spec.groups)
    for g_index, g in enumerate(spec.groups):
        gx = ox if nested else (g_index + 0.5) * width / n_groups
        y_u, y_h = 3.4, 4.9
        many = len(g.effects) > 1
        xs = [gx + (k - (len(g.effects) - 1) / 2) * 0.95 for k in range(len(g.effects))]
        us = [_node(ax, (xk, y_u), _effect_symbol(k, many)) for k, xk in enumerate(xs)]
        for xk, col in zip(xs, g.effects):
            ax.text(xk, y_u - 0.5, _label(col), ha="center", va="top", fontsize=7, color="0.3", gid="effect-name")
        for u in us:
            _arrow(ax, u, eta)
        if g.correlated:
            hyper = [_node(ax, (gx, y_h), r"$\Sigma$")]
            for u in us:
                _arrow(ax, hyper[0], u)
        else:
            for k, u in enumerate(us):
                h = _node(ax, (u[0], y_h), rf"$\tau^2_{{{k}}}$" if many else r"$\tau^2$")
                _arrow(ax, h, u)
        left, right = min(xs) - 0.65, max(xs) + 0.65
        if nested:
            left, right = min(left, obs_box[0] - 0.25), max(right, obs_box[2] + 0.25)
            # beta and sigma stay outside every plate: they are shared by all groups and observations
            bottom = obs_box[1] - 0.15
        else:
            bottom = y_u - 0.85
        right = max(right, left + 0.28 * (len(g.name) + 12))       # room for the plate's label
        _plate(ax, left, bottom, right, y_u + 0.85, rf"$j = 1, \dots, J$ ({_label(g.name)})", top=True)
    title = f"{spec.response}  ~  {spec.family}, {spec.link} link"
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-0.2, width + 0.6)
    ax.set_ylim(0, 5.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
