"""Figures for the course: shrinkage, per-group panels, fitted lines, random-effects contours,
caterpillar plots and residual diagnostics.

Every function draws with matplotlib, returns the Axes it drew on (an array of Axes for multi-panel
figures) and accepts ``ax=`` so a learner can place the figure in a grid of their own.  Inputs are
never modified; wrong arguments raise :class:`~mlmkit.errors.ParameterError` or
:class:`~mlmkit.errors.DataError` naming the problem.  :func:`plot_profile`,
:func:`plot_power_curve` and :func:`condvar` are re-exported here: every figure of the course.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from .errors import DataError, ParameterError
from .inference.condvar import condvar
from .diagram import model_diagram
from .power import plot_power_curve
from .simulate import cov_sqrt

__all__ = ["model_diagram", "shrinkage", "group_panels", "fitted_lines", "ranef_contour", "condvar", "caterpillar",
           "residual_diagnostics", "plot_profile", "plot_power_curve"]

_FLAT, _MULTI, _POP = "#d95f02", "#1b9e77", "black"


def __getattr__(name):
    # plot_profile lives in mlmkit.inference.profile, whose spline machinery `import mlmkit` need not load
    if name == "plot_profile":
        from .inference.profile import plot_profile
        return plot_profile
    raise AttributeError(f"module 'mlmkit.plots' has no attribute {name!r}")


def _axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    return plt.subplots(figsize=figsize)[1]


def _panels(ax, n, need, **subplots):
    """The first n of the caller's Axes (``need`` opens the error when ax= holds fewer), or n new
    ones in a row (``subplots``: arguments of ``plt.subplots``)."""
    if ax is None:
        import matplotlib.pyplot as plt
        return plt.subplots(1, n, squeeze=False, **subplots)[1].ravel()
    axes = np.asarray(ax, dtype=object).ravel()
    if axes.size < n:
        raise ParameterError(f"{need} {axes.size}")
    return axes[:n]


def _grid(ax, n, ncols, panel_size, sharex=True, sharey=True):
    """n panels: the caller's Axes (an array with at least n entries) or a new figure."""
    if ax is not None:
        return _panels(ax, n, f"this figure needs {n} Axes but ax= holds")
    import matplotlib.pyplot as plt
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    width, height = panel_size[0] * ncols + 0.6, panel_size[1] * nrows + 0.8
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), sharex=sharex, sharey=sharey,
                             squeeze=False)
    # fixed margins in inches: constrained layout would cost seconds with many panels
    fig.subplots_adjust(left=0.65 / width, right=1 - 0.1 / width, bottom=0.5 / height,
                        top=1 - 0.45 / height, hspace=0.35, wspace=0.12)
    axes = axes.ravel()
    for a in axes[n:]:
        a.set_visible(False)
    return axes[:n]


def _group_of(m, group):
    """The grouping factor a figure is about: ``group`` if given, else the model's only (first) one."""
    names = list(m.ranef)
    if group is None:
        return names[0]
    if group not in names:
        raise ParameterError(f"'{group}' is not a grouping factor of this model; it has: {', '.join(names)}")
    return group


def _as_series(values, name):
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise DataError(f"{name} must be one column of estimates, got {values.shape[1]} columns")
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        return values.astype(float)
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return pd.Series(arr)


# --------------------------------------------------------------------------------------------------
# shrinkage
def shrinkage(flat, multilevel, *, population=None, sizes=None, labels=("flat", "multilevel"),
              ylabel="estimate", ax=None):
    """Flat (no pooling) against multilevel (partial pooling) estimates, one line per group.

    Left, each group's estimate from a model fitted to that group alone; right, the multilevel
    model's estimate; a line joins the two.  Lines that converge towards ``population`` (e.g. the
    fixed intercept, a dashed line) show shrinkage: groups with little data move the most.

    ``flat`` and ``multilevel`` are Series (aligned on their index, the group labels) or 1-d arrays
    of the same length and order; ``sizes`` (optional) makes point areas proportional to the group
    sizes; ``labels`` names the two columns.  Raises DataError when the two sets of estimates name
    different groups or have different lengths.
    """
    f, m = _as_series(flat, "flat"), _as_series(multilevel, "multilevel")
    if len(f) != len(m):
        raise DataError(f"flat has {len(f)} estimates but multilevel has {len(m)}: one per group each")
    if isinstance(flat, (pd.Series, pd.DataFrame)) and isinstance(multilevel, (pd.Series, pd.DataFrame)):
        f.index, m.index = f.index.astype(str), m.index.astype(str)
        if set(f.index) != set(m.index):
            extra = sorted(set(f.index) ^ set(m.index))[:5]
            raise DataError(f"flat and multilevel estimates name different groups, e.g. {extra}")
        m = m.reindex(f.index)
    else:
        m.index = f.index
    from matplotlib.collections import LineCollection
    ax = _axes(ax, (4.0, 4.5))
    fv, mv = f.to_numpy(), m.to_numpy()
    segs = np.stack([np.column_stack([np.zeros_like(fv), fv]), np.column_stack([np.ones_like(mv), mv])], axis=1)
    ax.add_collection(LineCollection(segs, colors="0.55", linewidths=0.8, alpha=0.7))
    s = 20.0
    if sizes is not None:
        sz = _as_series(sizes, "sizes").to_numpy()
        if sz.shape != fv.shape:
            raise DataError(f"sizes has {sz.size} entries for {fv.size} groups")
        s = 150.0 * sz / sz.max()                  # the largest group gets a 150 pt² marker
    ax.scatter(np.zeros_like(fv), fv, s=s, color=_FLAT, zorder=3, label=labels[0])
    ax.scatter(np.ones_like(mv), mv, s=s, color=_MULTI, zorder=3, label=labels[1])
    if population is not None:
        ax.axhline(float(population), color=_POP, ls="--", lw=1, label="population estimate")
    ax.set_xticks([0, 1], list(labels))
    ax.set(xlim=(-0.35, 1.35), ylabel=ylabel)
    return ax


# --------------------------------------------------------------------------------------------------
# lines per group
def _coef_table(source, group, what):
    """Per-group coefficients from a fitted model (its ``coef``) or from a DataFrame given directly."""
    if hasattr(source, "coef") and hasattr(source, "fixef"):
        return source.coef[_group_of(source, group)], source.fixef
    if isinstance(source, pd.DataFrame):
        out = source.copy()
        out.index = out.index.astype(str)
        return out, None
    raise ParameterError(f"{what} must be a fitted model or a DataFrame of coefficients per group, "
                         f"not {type(source).__name__}")


def _intercepts_slopes(table, x):
    """Intercept and slope columns of a coefficient table; a missing column means 0 for every group."""
    if x not in table.columns and "(Intercept)" not in table.columns:
        raise DataError(f"the coefficient table has neither '(Intercept)' nor '{x}'; it has "
                        f"{', '.join(map(str, table.columns))}")
    return tuple(table[c].to_numpy(float) if c in table.columns else np.zeros(len(table))
                 for c in ("(Intercept)", x))


def group_panels(data, x, y, group, lines=None, *, order=None, ncols=6, panel_size=(1.7, 1.5),
                 colors=None, ax=None):
    """One panel per group: the group's data and, optionally, its fitted lines from several models.

    Returns a numpy array of Axes, one per group.

    Parameters
    ----------
    data : DataFrame
        Holds the columns ``x`` (predictor), ``y`` (response) and ``group`` (grouping factor).
    lines : dict, optional
        Label → a fitted model (its ``coef[group]`` gives each group's intercept and slope for ``x``)
        or a DataFrame indexed by group label with columns ``(Intercept)`` and ``x``, typically
        ``{"flat": flat_coefs, "multilevel": m}``; ``colors`` gives one colour per entry.
    order : list, optional
        Group labels in the order to draw them (default: R's factor order).
    ncols, ax
        Panels per row of a new figure; or an array of at least one Axes per group.
    """
    from .spec.design import factor_codes
    for c in (x, y, group):
        if c not in data.columns:
            raise DataError(f"unknown column '{c}': the data have {', '.join(map(str, data.columns))}")
    codes, levels = factor_codes(data[group])
    labels = [str(v) for v in levels]
    if order is not None:
        order = [str(o) for o in order]
        unknown = [o for o in order if o not in labels]
        if unknown:
            raise DataError(f"order names groups not in the data: {unknown[:5]}")
        labels = order
    tables = {}
    for name, src in (lines or {}).items():
        table, _ = _coef_table(src, group, f"lines['{name}']")
        missing = [g for g in labels if g not in table.index]
        if missing:
            raise DataError(f"lines['{name}'] has no coefficients for group(s) {missing[:5]}")
        tables[name] = _intercepts_slopes(table.loc[labels], x)
    palette = list(colors) if colors is not None else [_FLAT, _MULTI, "#7570b3", "#e7298a"]
    xv, yv = data[x].to_numpy(float), data[y].to_numpy(float)
    xs = np.array([np.nanmin(xv), np.nanmax(xv)])
    axes = _grid(ax, len(labels), ncols, panel_size)
    pos = {lab: i for i, lab in enumerate(levels)}
    for k, (a, lab) in enumerate(zip(axes, labels)):
        rows = codes == pos[lab]
        a.scatter(xv[rows], yv[rows], s=8, color="0.3", zorder=3)
        for j, (name, (icpt, slope)) in enumerate(tables.items()):
            a.plot(xs, icpt[k] + slope[k] * xs, color=palette[j % len(palette)], lw=1.3,
                   label=name if k == 0 else None)
        # a text label, not set_title: placing 18+ titles costs a layout pass per panel
        a.text(0.5, 1.02, lab, transform=a.transAxes, ha="center", va="bottom", fontsize=8)
        a.tick_params(labelsize=7)
    fig = axes[0].figure
    if tables:
        if ax is None:
            fig.legend(loc="upper center", ncol=len(tables), frameon=False, bbox_to_anchor=(0.5, 1.0))
        else:
            axes[0].legend(fontsize=7, frameon=False)
    if ax is None:
        from matplotlib.ticker import MaxNLocator
        axes[0].xaxis.set_major_locator(MaxNLocator(4, integer=True))      # shared by every panel
        axes[0].yaxis.set_major_locator(MaxNLocator(4))
        fig.supxlabel(x, y=0.02, fontsize=10)
        fig.supylabel(y, x=0.01, fontsize=10)
    return axes


def fitted_lines(lines, x, *, group=None, xlim=None, data=None, y=None, population=True, color=_MULTI,
                 ax=None):
    """Every group's line of best fit on one Axes, with the population (fixed-effects) line.

    Parameters
    ----------
    lines : fitted model or DataFrame
        A model (its ``coef[group]`` and ``fixef``; ``group`` picks the grouping factor of a model
        with more than one) or a table indexed by group with columns ``(Intercept)`` and ``x``.
    x : str
        The predictor on the horizontal axis.
    xlim : (float, float), optional
        Range of the lines (default: the range of ``data[x]``, else of the model's ``x`` column).
    data, y : DataFrame and str, optional
        Draw the observations behind the lines.
    population : bool or (intercept, slope)
        Draw the population line (the model's fixed effects) in black.
    """
    table, fixef = _coef_table(lines, group, "lines")
    icpt, slope = _intercepts_slopes(table, x)
    if xlim is None:
        if data is not None and x in data.columns:
            xv = data[x].to_numpy(float)
        elif hasattr(lines, "design") and x in lines.design.fixef_names:
            xv = lines.design.X[:, list(lines.design.fixef_names).index(x)]
        else:
            raise ParameterError(f"give xlim=(low, high): '{x}' is not a column of data or of the model")
        xlim = (float(np.nanmin(xv)), float(np.nanmax(xv)))
    x0, x1 = map(float, xlim)
    from matplotlib.collections import LineCollection
    ax = _axes(ax, (4.5, 3.5))
    if data is not None and y is not None:
        ax.scatter(data[x], data[y], s=6, color="0.75", zorder=1)
    segs = np.stack([np.column_stack([np.full_like(icpt, x0), icpt + slope * x0]),
                     np.column_stack([np.full_like(icpt, x1), icpt + slope * x1])], axis=1)
    ax.add_collection(LineCollection(segs, colors=color, linewidths=1.0, alpha=0.7, zorder=2))
    if population is True:
        population = None if fixef is None else (float(fixef.get("(Intercept)", 0.0)),
                                                  float(fixef.get(x, 0.0)))
    if population is not False and population is not None:
        a, b = population
        ax.plot([x0, x1], [a + b * x0, a + b * x1], color=_POP, lw=2.2, zorder=3,
                label="population")
    ax.autoscale_view()
    ax.set_xlabel(x)
    if y is not None:
        ax.set_ylabel(y)
    return ax


# --------------------------------------------------------------------------------------------------
# the random-effects distribution
def _re_covariance(m, group, columns):
    """The fitted covariance of two random effects of ``group`` from ``varcorr`` (0 across terms)."""
    vc = m.varcorr
    own = vc[(vc["grp"] == group) | vc["grp"].astype(str).str.startswith(group + ".")]
    sds = []
    for c in columns:
        row = own[(own["var1"] == c) & own["var2"].isna()]
        if row.empty:
            raise ParameterError(f"'{c}' has no random effect on '{group}'")
        sds.append(float(row["sdcor"].iloc[0]))
    cor = own[((own["var1"] == columns[0]) & (own["var2"] == columns[1]))
              | ((own["var1"] == columns[1]) & (own["var2"] == columns[0]))]
    r = float(cor["sdcor"].iloc[0]) if not cor.empty else 0.0
    r = 0.0 if not np.isfinite(r) else r
    return np.array([[sds[0] ** 2, r * sds[0] * sds[1]], [r * sds[0] * sds[1], sds[1] ** 2]])


def ranef_contour(m, group=None, columns=None, *, probs=(0.5, 0.8, 0.95), points="coef", annotate=False,
                  ax=None):
    """Contours of the fitted normal distribution of two random effects, with each group's estimate.

    On the coefficient scale (``points="coef"``) the distribution is N(b, Σ): b the fixed effects of
    the two columns and Σ their estimated covariance; on the random-effects scale (``"ranef"``) it
    is N(0, Σ).  The contour that holds probability p is the ellipse
    (x − b)' Σ⁻¹ (x − b) = −2 log(1 − p) (a χ² quantile with 2 degrees of freedom), drawn from
    Σ's eigen decomposition so that a singular Σ (correlation ±1) gives a segment, not an error.

    ``m`` needs two random effects on ``group``: ``columns`` (default: the first two of
    ``m.ranef[group]``).  ``probs`` gives the probability content of each contour; ``annotate``
    labels each point with its group.
    """
    g = _group_of(m, group)
    re = m.ranef[g]
    if columns is None:
        if re.shape[1] < 2:
            raise ParameterError(f"'{g}' has one random effect ({re.columns[0]}); a contour needs two")
        columns = tuple(re.columns[:2])
    columns = tuple(columns)
    if len(columns) != 2 or any(c not in re.columns for c in columns):
        raise ParameterError(f"columns must name two random effects of '{g}': {', '.join(re.columns)}")
    if points not in ("coef", "ranef"):
        raise ParameterError(f"points must be 'coef' or 'ranef', not {points!r}")
    probs = np.asarray(probs, float)
    if np.any((probs <= 0) | (probs >= 1)):
        raise ParameterError(f"probs must lie strictly between 0 and 1, got {list(probs)}")
    Sigma = _re_covariance(m, g, columns)
    coef = points == "coef"
    centre = np.array([float(m.fixef.get(c, 0.0)) if coef else 0.0 for c in columns])
    pts = (m.coef[g] if coef else re)[list(columns)].to_numpy(float)
    A = cov_sqrt(Sigma)                               # x = centre + A (r cos t, r sin t)
    t = np.linspace(0.0, 2.0 * np.pi, 241)
    circle = np.stack([np.cos(t), np.sin(t)])
    radii = np.sqrt(-2.0 * np.log1p(-probs))
    ax = _axes(ax, (4.5, 4.0))
    import matplotlib as mpl
    shades = mpl.colormaps["Blues"](np.linspace(0.75, 0.35, len(radii)))
    for r, p, col in sorted(zip(radii, probs, shades), key=lambda z: z[0]):
        e = centre[:, None] + r * (A @ circle)
        ax.plot(e[0], e[1], color=col, lw=1.4, label=f"{p:.0%} of groups")
    ax.scatter(pts[:, 0], pts[:, 1], s=14, color=_MULTI, edgecolor="white", linewidth=0.4, zorder=3,
               label="group estimates")
    ax.scatter([centre[0]], [centre[1]], marker="+", s=80, color=_POP, zorder=4, label="population mean")
    if annotate:
        for lab, (px, py) in zip(re.index, pts):
            ax.annotate(str(lab), (px, py), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set(xlabel=columns[0], ylabel=columns[1])
    return ax


# --------------------------------------------------------------------------------------------------
# the caterpillar plot (conditional variances from mlmkit.inference.condvar)
def caterpillar(m, group=None, *, level=0.95, sort=True, ax=None):
    """Each group's random effects with intervals: a caterpillar (dot) plot, one panel per effect.

    The interval is b̂ ± z σ_b with σ_b² the conditional variance from :func:`condvar` and
    z = Φ⁻¹((1 + level)/2).  These are lme4's ``dotplot(ranef(m, condVar = TRUE))`` intervals:
    they hold θ and β at their estimates, so they are narrower than a full Bayesian interval.

    ``level`` is the coverage, in (0, 1); ``sort`` orders the groups by their first random effect;
    ``ax`` holds one Axes per random effect of the group.  Returns one Axes per random effect
    (a single Axes for one).
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must lie strictly between 0 and 1, got {level}")
    g = _group_of(m, group)
    re = m.ranef[g]
    sd = np.sqrt(np.concatenate([np.diagonal(v, axis1=1, axis2=2) for v in condvar(m)[g]], axis=1))
    est = re.to_numpy(float)
    z = float(ndtri(0.5 + level / 2.0))
    order = np.argsort(est[:, 0], kind="stable") if sort else np.arange(len(re))
    k = est.shape[1]
    axes = _panels(ax, k, f"'{g}' has {k} random effects: ax= needs {k} Axes, got",
                   figsize=(3.0 * k, 0.9 + 0.16 * len(re)), sharey=True)
    ypos = np.arange(len(re))
    for j, a in enumerate(axes):
        e, h = est[order, j], z * sd[order, j]
        a.errorbar(e, ypos, xerr=h, fmt="o", ms=3, color=_MULTI, ecolor="0.5", elinewidth=1, capsize=0)
        a.axvline(0.0, color=_POP, lw=0.8, ls="--")
        a.set_yticks(ypos, [str(v) for v in re.index[order]], fontsize=7)
        a.set_title(re.columns[j], fontsize=9)
    axes[0].set_ylabel(g)
    return axes[0] if k == 1 else axes


# --------------------------------------------------------------------------------------------------
# diagnostics
def _ppoints(n):
    """R's ``ppoints``: plotting positions (i − a)/(n + 1 − 2a), a = 3/8 for n ≤ 10 else 1/2."""
    a = 3.0 / 8.0 if n <= 10 else 0.5
    return (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)


def _qq(ax, values, title):
    v = np.sort(np.asarray(values, float))
    q = ndtri(_ppoints(len(v)))
    ax.scatter(q, v, s=8, color=_MULTI)
    # R's qqline: the line through the first and third quartiles
    qy, qx = np.quantile(v, [0.25, 0.75]), ndtri(np.array([0.25, 0.75]))
    ax.axline((qx[0], qy[0]), slope=(qy[1] - qy[0]) / (qx[1] - qx[0]), color=_POP, lw=0.9)
    ax.set_xlabel("normal quantiles")
    ax.set_title(title, fontsize=9)


def residual_diagnostics(m, group=None, *, ax=None):
    """Three checks of a fitted model: residuals against fitted values, and normal Q-Q plots of the
    scaled residuals and of the first random effect of ``group``.

    Residuals are Pearson residuals divided by σ (lme4's "scaled residuals"; a GLMM's Pearson
    residuals are already on that scale).  Curvature or a funnel in the first panel, or points far
    off the line in the Q-Q plots, are reasons to revisit the model.  Returns the 3 Axes.
    """
    g = _group_of(m, group)
    try:
        r = np.asarray(m.residuals(type="pearson", scaled=True), float)
    except TypeError:                      # a GLMM's residuals() takes no `scaled`
        r = np.asarray(m.residuals(type="pearson"), float)
    fitted = np.asarray(m.fitted, float)
    axes = _panels(ax, 3, "residual_diagnostics draws 3 panels: ax= needs 3 Axes, got",
                   figsize=(10.5, 3.2))
    axes[0].scatter(fitted, r, s=8, color=_MULTI, alpha=0.7)
    axes[0].axhline(0.0, color=_POP, lw=0.9, ls="--")
    axes[0].set(xlabel="fitted values", ylabel="scaled residuals")
    axes[0].set_title("residuals vs fitted", fontsize=9)
    _qq(axes[1], r, "scaled residuals")
    re = m.ranef[g]
    _qq(axes[2], re.iloc[:, 0], f"random effects: {re.columns[0]} | {g}")
    return axes
