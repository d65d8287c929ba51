"""Plate diagrams (Bayesian networks) of lme4-style models, drawn from the formula with matplotlib.

:func:`model_diagram` draws the observed response ``y_i`` (shaded) in the observation plate; one
plate per grouping factor with its latent effects (``b_j`` with sd ``τ`` for ``(1 | g)``, a vector
``b_j`` with covariance ``Σ`` for ``(1 + x | g)``, one node and ``τ`` per effect for ``||``), nested
factors as plates inside their parent's plate and crossed ones side by side; the fixed effects ``β``
and, for a Gaussian response, ``σ``; arrows from each parameter to what it generates.  Every artist
has a ``gid`` (``"node:y"``, ``"node:b1"``, ``"plate:obs"``, ``"plate:g1"``, ``"edge:beta->y"``, …)
so tests and learners can find it; node patches also get a ``label`` (the mathematical symbol).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import FamilyError, ParameterError
from .spec.formula import RandomTerm, parse_formula

__all__ = ["model_diagram", "diagram_spec"]

OBSERVED_FACE = "0.75"
LATENT_FACE = "white"
_LINKS = {"gaussian": "identity", "binomial": "logit", "poisson": "log"}
_INDEX = "jklmpqrst"


@dataclass
class _Node:
    key: str
    label: str           # mathtext inside the circle
    caption: str         # text under the circle
    observed: bool = False
    x: float = 0.0
    y: float = 0.0


@dataclass
class _Plate:
    key: str
    label: str
    members: list = field(default_factory=list)   # node keys
    parent: str | None = None
    depth: int = 0


@dataclass
class DiagramSpec:
    """What :func:`model_diagram` draws: nodes, edges (parent → child keys), plates, family, link."""

    nodes: dict
    edges: list
    plates: dict
    family: str
    link: str


def _source(model):
    """(formula text, family name, link name) from a formula string or a fitted result."""
    if isinstance(model, str):
        return model, None, None
    formula = getattr(model, "formula", None)
    if not isinstance(formula, str):
        raise ParameterError("model_diagram needs an lme4-style formula string or a fitted mk.lmer/mk.glmer "
                             f"result, not {type(model).__name__}")
    fam = getattr(model, "family", None)
    return (formula, "gaussian", "identity") if fam is None else (formula, fam.name, fam.link.name)


def diagram_spec(model, family: str | None = None, link: str | None = None, data=None) -> DiagramSpec:
    """The nodes, edges and plates of a model's plate diagram, without drawing (parameters as for
    :func:`model_diagram`; ``link`` defaults to the family's canonical link)."""
    formula, fam0, link0 = _source(model)
    parsed = parse_formula(formula)            # FormulaError for a bad formula
    counts = parsed.response_args is not None
    fam = _family_name(family or fam0 or ("binomial" if counts else "gaussian"))
    lnk = link or link0 or _LINKS[fam]
    nodes, edges = _fixed_nodes(parsed, counts, fam)
    groups, plates = _plates(parsed, data)
    _latent_nodes(parsed, groups, nodes, edges, plates)
    return DiagramSpec(nodes, edges, plates, fam, lnk)


def _family_name(fam) -> str:
    """A family (name or object) as one of the names the diagram draws."""
    if not isinstance(fam, str):
        fam = getattr(fam, "name", None)
        if fam is None:
            raise FamilyError("family must be a name such as 'gaussian' or 'binomial'")
    fam = fam.strip().lower()
    fam = "gaussian" if fam == "normal" else fam
    if fam not in _LINKS:
        raise FamilyError(f"unknown family {fam!r}: model_diagram draws 'gaussian', 'binomial' or 'poisson'")
    return fam


def _fixed_nodes(parsed, counts: bool, fam: str):
    """The response, the fixed effects and σ: (nodes, edges)."""
    args = parsed.response_args
    caption = f"{args[0]} of {args[1].replace('- ', '−')}" if counts and len(args) == 2 else parsed.response
    nodes = {"y": _Node("y", r"$y_i$", caption, observed=True)}
    fixed = [t for s, t in parsed.fixed_terms if s == "+" and t not in ("0", "1", "-1")]
    fixed_names = (["(Intercept)"] if parsed.intercept else []) + fixed
    edges = []
    if fixed_names:
        nodes["beta"] = _Node("beta", r"$\beta$", ", ".join(fixed_names))
        edges.append(("beta", "y"))
    if fam == "gaussian":
        nodes["sigma"] = _Node("sigma", r"$\sigma$", "residual sd")
        edges.append(("sigma", "y"))
    return nodes, edges


def _plates(parsed, data):
    """One plate per grouping factor, in the order the formula names them, nested ones inside their
    parents: (groups, plates)."""
    groups = list(dict.fromkeys(t.group for t in parsed.random))
    gvars = {g: set(RandomTerm("1", g, g).group_vars) for g in groups}
    n_obs = "" if data is None else f" = {len(data)}"
    plates = {"obs": _Plate("obs", f"observations: i = 1…n{n_obs}", ["y"])}
    for k, g in enumerate(groups):
        idx = _INDEX[k % len(_INDEX)]
        parents = [h for h in groups if h != g and gvars[h] < gvars[g]]
        parent = max(parents, key=lambda h: len(gvars[h])) if parents else None
        size = ""
        if data is not None:
            try:
                size = f" = {len(data[list(gvars[g])].drop_duplicates())}"
            except KeyError:
                pass
        plates[f"g{k + 1}"] = _Plate(f"g{k + 1}", f"{g}: {idx} = 1…{idx.upper()}{size}",
                                     parent=None if parent is None else f"g{groups.index(parent) + 1}")
    for p in plates.values():
        d, q = 0, p
        while q.parent is not None:
            d, q = d + 1, plates[q.parent]
        p.depth = d
    return groups, plates


def _latent_nodes(parsed, groups, nodes, edges, plates) -> None:
    """Each random term's effects and their covariance (or sd), placed on the term's plate."""
    all_groups = [u.group for u in parsed.random]
    for n_latent, t in enumerate(parsed.random, start=1):
        k = groups.index(t.group)
        idx, cols, key = _INDEX[k % len(_INDEX)], list(t.columns), f"b{n_latent}"
        before = all_groups[:parsed.random.index(t)].count(t.group)   # earlier terms on this factor
        sub = "" if all_groups.count(t.group) == 1 else str(before)
        symbol = "b" if k == 0 else ("u", "v", "w")[min(k - 1, 2)]
        if len(cols) > 1:
            nodes[key] = _Node(key, rf"$\mathbf{{{symbol}}}_{{{sub}{idx}}}$", ", ".join(cols))
            hyper = _Node(f"Sigma{n_latent}", rf"$\Sigma_{{{sub}{idx}}}$" if sub else rf"$\Sigma_{{{symbol}}}$",
                          "covariance")
        else:
            nodes[key] = _Node(key, rf"${symbol}_{{{sub}{idx}}}$", cols[0] if cols else "")
            hyper = _Node(f"tau{n_latent}", rf"$\tau_{{{symbol}{sub}}}$", "sd")
        nodes[hyper.key] = hyper
        edges += [(hyper.key, key), (key, "y")]
        plates[f"g{k + 1}"].members.append(key)


def _layout(spec: DiagramSpec):
    """Positions of nodes and rectangles of plates, in data units (nodes have radius 0.32)."""
    step, x = 1.25, 2.2
    boxes = {}
    group_keys = [k for k in spec.plates if k != "obs"]
    children = {k: [c for c in group_keys if spec.plates[c].parent == k] for k in group_keys}
    roots = [k for k in group_keys if spec.plates[k].parent is None]

    def walk(k):
        return spec.plates[k].members + [n for c in children[k] for n in walk(c)]

    order: list[str] = []                 # nodes left to right, "" for a gap
    for nodes in filter(None, map(walk, roots)):
        order += (["", ""] if order else []) + nodes      # a gap between crossed factors
    y_lat, y_hyp = 3.2, 4.75
    for node in order:
        if node:
            spec.nodes[node].x, spec.nodes[node].y = x, y_lat
            h = next(a for a, b in spec.edges if b == node and a not in ("beta", "sigma"))
            spec.nodes[h].x, spec.nodes[h].y = x, y_hyp
        x += step

    def extent(k):
        xs_k = [spec.nodes[n].x for n in spec.plates[k].members]
        for c in children[k]:
            x0, x1 = extent(c)
            xs_k += [x0 + 0.1, x1 - 0.1]
        lo, hi = min(xs_k) - 0.55, max(xs_k) + 0.55
        pad = max(0.0, 2.1 - (hi - lo)) / 2
        return lo - pad, hi + pad

    max_depth = max([spec.plates[k].depth for k in group_keys], default=0)
    for k in group_keys:
        x0, x1 = extent(k)
        d = spec.plates[k].depth
        inset = 0.12 * d
        top = y_lat + 0.75 + 0.12 * (max_depth - d) - inset + 0.12 * max_depth
        boxes[k] = (x0, y_lat - 1.0 + inset, x1 - x0, top - (y_lat - 1.0 + inset))
    lat_x = [n.x for n in spec.nodes.values() if n.key.startswith("b")]
    cx = (min(lat_x) + max(lat_x)) / 2 if lat_x else 2.2
    spec.nodes["y"].x, spec.nodes["y"].y = cx, 1.2
    left = min([cx - 0.9] + [b[0] for b in boxes.values()])
    right = max([cx + 0.9] + [b[0] + b[2] for b in boxes.values()])
    boxes["obs"] = (min(cx - 1.0, 1.5), 0.3, max(right, cx + 1.0) - min(cx - 1.0, 1.5), 1.6)
    for key, y in (("beta", 1.2), ("sigma", 2.7)):
        if key in spec.nodes:
            spec.nodes[key].x, spec.nodes[key].y = min(left, boxes["obs"][0]) - 1.0, y
    return boxes


def model_diagram(model, ax=None, *, data=None, family: str | None = None, link: str | None = None,
                  figsize=None):
    """Draw the plate diagram of an lme4-style model; return the Axes.

    Parameters
    ----------
    model : str or fitted result
        A formula such as ``"Reaction ~ Days + (Days | Subject)"`` or the result of ``mk.lmer`` /
        ``mk.glmer`` (its formula and family are used).
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.
    data : DataFrame, optional
        If given, plate labels show ``n`` and the number of levels of each grouping factor.
    family, link : str, optional
        For a formula: ``"gaussian"`` (default), ``"binomial"`` (default for ``cbind(...)``), ``"poisson"``.

    Raises :class:`~mlmkit.errors.FormulaError` for a formula lme4 would reject or one without a
    random-effects term, :class:`~mlmkit.errors.FamilyError` for an unknown family.
    """
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    spec = diagram_spec(model, family=family, link=link, data=data)
    boxes = _layout(spec)
    xs = [n.x for n in spec.nodes.values()] + [b[0] + b[2] for b in boxes.values()] + \
        [b[0] for b in boxes.values()]
    width, height = max(xs) - min(xs) + 1.2, 5.9
    if ax is None:
        import matplotlib.pyplot as plt
        ax = plt.subplots(figsize=figsize or (max(3.6, 0.95 * width), 0.95 * height))[1]
    r = 0.34
    for key, (x0, y0, w, h) in boxes.items():
        plate = spec.plates[key]
        ax.add_patch(FancyBboxPatch((x0, y0), w, h, boxstyle="round,pad=0,rounding_size=0.08", fill=False,
                                    lw=1.1, ec="0.25", gid=f"plate:{key}", label=plate.label))
        ax.text(x0 + w - 0.08, y0 + 0.08, plate.label, ha="right", va="bottom", fontsize=6.5, color="0.2",
                gid=f"platelabel:{key}")
    for node in spec.nodes.values():
        ax.add_patch(Circle((node.x, node.y), r, fc=OBSERVED_FACE if node.observed else LATENT_FACE, ec="black",
                            lw=1.2, zorder=3, gid=f"node:{node.key}", label=node.label))
        ax.text(node.x, node.y, node.label, ha="center", va="center", fontsize=11, zorder=4,
                gid=f"nodelabel:{node.key}")
        if node.caption:
            ax.text(node.x, node.y - r - 0.08, node.caption, ha="center", va="top", fontsize=7, color="0.3",
                    zorder=4, gid=f"caption:{node.key}")
    for a, b in spec.edges:
        na, nb = spec.nodes[a], spec.nodes[b]
        d = np.array([nb.x - na.x, nb.y - na.y])
        u = d / np.hypot(*d)                  # arrows end at circle edges
        ends = (na.x + r * u[0], na.y + r * u[1]), (nb.x - r * u[0], nb.y - r * u[1])
        ax.add_patch(FancyArrowPatch(*ends, arrowstyle="-|>", mutation_scale=11, lw=1.0,
                                     color="black", shrinkA=0, shrinkB=0, zorder=2, gid=f"edge:{a}->{b}",
                                     patchA=None, patchB=None, connectionstyle="arc3,rad=0"))
    ax.text(0.5, 1.0, f"family: {spec.family}, link: {spec.link}", transform=ax.transAxes, ha="center",
            va="top", fontsize=8.5, gid="family")
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(0.1, 5.55)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
