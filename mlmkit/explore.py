"""Explorers: sliders over the formulas of the course, for JupyterLab, with a static picture otherwise.

:func:`shrinkage` (partial pooling, :func:`shrinkage_weight`) and :func:`power` (ICC, design effect
and power for a cluster-level predictor, :func:`cluster_power`) redraw a closed form as the sliders
move; no model is refitted.  Each is an :class:`Explorer`: in a notebook it offers the live widget,
a PNG of the figure at the starting values and a plain-text summary, so JupyterLab shows the widget,
a static page (website, nbconvert, no ipywidgets) the picture, and nbval compares the text.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from .errors import DataError, ParameterError

__all__ = ["shrinkage_weight", "shrunken_means", "design_effect", "cluster_power",
           "shrinkage", "power", "Explorer"]


# ------------------------------------------------------------ the formulas
def shrinkage_weight(tau2, sigma2, n):
    """λ = τ² / (τ² + σ²/n): the weight of a group's own mean (1 = no shrinkage, 0 = complete pooling)."""
    tau2, sigma2, n = (np.asarray(v, dtype=float) for v in (tau2, sigma2, n))
    return tau2 / (tau2 + sigma2 / n)


def shrunken_means(means, n, tau2, sigma2, mean):
    """μ̂_j = μ + λ_j (ȳ_j − μ), with λ_j from :func:`shrinkage_weight`."""
    means = np.asarray(means, dtype=float)
    return mean + shrinkage_weight(tau2, sigma2, n) * (means - mean)


def design_effect(icc, cluster_size):
    """DEFF = 1 + (m − 1) ICC: how much larger a variance is than with the same number of independent units."""
    return 1.0 + (np.asarray(cluster_size, dtype=float) - 1.0) * np.asarray(icc, dtype=float)


def cluster_power(effect, icc, cluster_size, n_clusters, total_variance=1.0, alpha=0.05):
    """Power of the two-sided test of a standardised cluster-level predictor (balanced design).

    SE² = (τ² + σ²/m)/J = V·DEFF/(m·J) with V = τ² + σ² the total variance; power =
    ``P(|T| > t_{1-α/2, J-2})`` for T noncentral t with J − 2 degrees of freedom (intercept and
    slope from J cluster means) and noncentrality effect/SE.  Vectorised over every argument.
    """
    m = np.asarray(cluster_size, dtype=float)
    J = np.asarray(n_clusters, dtype=float)
    se = np.sqrt(total_variance * design_effect(icc, m) / (m * J))
    df = J - 2.0
    crit = stats.t.ppf(1.0 - alpha / 2.0, df)
    ncp = np.asarray(effect, dtype=float) / se
    p = stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)
    # scipy's noncentral t gives nan far in the tail (power ~ 1); the normal limit is exact enough there
    return np.where(np.isnan(p), stats.norm.sf(crit - ncp) + stats.norm.cdf(-crit - ncp), p)


# ------------------------------------------------------------ the explorer object
class Explorer:
    """A figure redrawn from slider values, shown as a live widget or, without one, as a picture.

    ``sliders`` maps names to ``(widget class name, keyword arguments)``; ``draw(fig, **values)``
    (re)draws the figure and returns the summary text.  :meth:`set` changes values as a slider would
    (the test suite drives the explorer this way); ``figure`` and ``text`` hold the current state.
    """

    def __init__(self, title, sliders, draw, figsize):
        self.title, self._specs, self._draw = title, sliders, draw
        self.values = {name: kw["value"] for name, (_, kw) in sliders.items()}
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.text = draw(self.figure, **self.values)
        self._static_png = self.png()
        self._widget, self._updating = None, False

    def png(self) -> bytes:
        """The figure as it is now, as PNG bytes."""
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=90)
        return buf.getvalue()

    def set(self, **values):
        """Change slider values (unknown names are an error) and redraw; returns the new summary text."""
        unknown = set(values) - set(self.values)
        if unknown:
            raise ParameterError(f"{self.title}: no slider named {sorted(unknown)}; sliders: {list(self.values)}")
        self.values.update(values)
        if self._widget is not None and not self._updating:   # keep the sliders in step, observers muted
            self._updating = True
            try:
                for name, value in values.items():
                    self._sliders[name].value = value
            finally:
                self._updating = False
        self.figure.clear()
        self.text = self._draw(self.figure, **self.values)
        if self._widget is not None:
            self._image.value = self.png()
            self._label.value = f"<pre>{self.text}</pre>"
        return self.text

    @property
    def widget(self):
        """The ipywidgets box (sliders, picture, summary); built on first use."""
        if self._widget is None:
            self._build_widget()
        return self._widget

    def _build_widget(self):
        import ipywidgets as w                       # optional: only the live explorer needs it
        self._sliders = {name: getattr(w, cls)(description=name, continuous_update=False, **kw)
                         for name, (cls, kw) in self._specs.items()}
        self._image = w.Image(value=self.png(), format="png")
        self._label = w.HTML(f"<pre>{self.text}</pre>")

        def on_change(change):
            if not self._updating:
                self._updating = True
                try:
                    self.set(**{n: s.value for n, s in self._sliders.items()})
                finally:
                    self._updating = False

        for s in self._sliders.values():
            s.observe(on_change, names="value")
        self._widget = w.VBox([w.HBox(list(self._sliders.values()), layout=w.Layout(flex_flow="row wrap")),
                               self._image, self._label])

    def _repr_mimebundle_(self, include=None, exclude=None):
        text = f"{self.title}\n{self.text}"
        bundle = {"text/plain": text, "image/png": base64.b64encode(self._static_png).decode("ascii")}
        try:
            bundle.update(self.widget._repr_mimebundle_() or {})
        except ImportError:                          # no ipywidgets: the picture is the output
            pass
        bundle["text/plain"] = text                  # the widget's own text repr names a random model id
        return bundle

    def __repr__(self):
        return f"{self.title}\n{self.text}"


# ------------------------------------------------------------ shrinkage
def _as_groups(means, sizes):
    m = means if isinstance(means, pd.Series) else pd.Series(np.asarray(means, dtype=float))
    n = sizes if isinstance(sizes, pd.Series) else pd.Series(np.asarray(sizes, dtype=float))
    if len(m) != len(n):
        raise DataError(f"means has {len(m)} groups but sizes has {len(n)}: one size per group")
    if not isinstance(sizes, pd.Series):
        n.index = m.index
    if isinstance(means, pd.Series) and isinstance(sizes, pd.Series):
        m.index, n.index = m.index.astype(str), n.index.astype(str)
        if set(m.index) != set(n.index):
            raise DataError(f"means and sizes name different groups, e.g. {sorted(set(m.index) ^ set(n.index))[:5]}")
        n = n.reindex(m.index)
    m, n = m.to_numpy(dtype=float), n.to_numpy(dtype=float)
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(n))) or np.any(n <= 0):
        raise DataError("group means must be finite and group sizes positive")
    return m, n


def shrinkage(means, sizes, *, tau2, sigma2, mean=None, ylabel="estimate"):
    """Explore partial pooling: how far each group's mean moves towards the overall mean.

    ``means`` and ``sizes`` are each group's own mean ȳ_j and number of observations n_j (two
    Series are aligned on their index); ``tau2``, ``sigma2`` start the between-group and residual
    variances; ``mean`` is the overall mean μ (default: the n-weighted mean of ``means``).
    Returns an :class:`Explorer` with sliders ``tau2``, ``sigma2`` and ``n_factor`` (multiplying
    every n_j): left, each group's own mean joined to μ + λ_j(ȳ_j − μ); right, λ against n.
    """
    ybar, n = _as_groups(means, sizes)
    if not (tau2 > 0 and sigma2 > 0):
        raise ParameterError(f"tau2 and sigma2 must be positive, got tau2={tau2}, sigma2={sigma2}")
    mu = float(np.average(ybar, weights=n)) if mean is None else float(mean)
    grid = np.geomspace(min(n.min(), 1.0) / 10, n.max() * 10, 200)

    def draw(fig, tau2, sigma2, n_factor):
        nj = n * n_factor
        lam = shrinkage_weight(tau2, sigma2, nj)
        est = mu + lam * (ybar - mu)
        left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
        size = 8 + 60 * nj / nj.max()
        left.plot(np.tile([0.0, 1.0], (len(ybar), 1)).T, np.vstack([ybar, est]), color="0.6", lw=0.8)
        left.scatter(np.zeros_like(ybar), ybar, s=size, color="C0", zorder=3)
        left.scatter(np.ones_like(est), est, s=size, color="C1", zorder=3)
        left.axhline(mu, ls="--", color="k", lw=1)
        left.set(xticks=[0, 1], xticklabels=["own mean", "multilevel"], xlim=(-0.3, 1.3), ylabel=ylabel)
        right.semilogx(grid, shrinkage_weight(tau2, sigma2, grid), color="k", lw=1)
        right.scatter(nj, lam, s=size, color="C1", zorder=3)
        right.set(ylim=(0, 1.02), xlabel="group size $n_j$", ylabel=r"weight $\lambda_j$ on own mean")
        fig.suptitle(rf"$\tau^2$ = {tau2:.3g}, $\sigma^2$ = {sigma2:.3g}, ICC = {tau2 / (tau2 + sigma2):.2f}",
                     fontsize=10)
        return (f"tau2 = {tau2:.4g}, sigma2 = {sigma2:.4g}, ICC = {tau2 / (tau2 + sigma2):.3f}\n"
                f"weight on own mean: smallest group (n = {nj.min():.3g}) {lam.min():.3f}, "
                f"largest (n = {nj.max():.3g}) {lam.max():.3f}")

    sliders = {
        "tau2": ("FloatLogSlider", dict(value=tau2, base=10, min=np.log10(tau2) - 2, max=np.log10(tau2) + 2,
                                        step=0.05, readout_format=".3g")),
        "sigma2": ("FloatLogSlider", dict(value=sigma2, base=10, min=np.log10(sigma2) - 2,
                                          max=np.log10(sigma2) + 2, step=0.05, readout_format=".3g")),
        "n_factor": ("FloatLogSlider", dict(value=1.0, base=10, min=-1, max=1, step=0.05, readout_format=".2g")),
    }
    return Explorer("Shrinkage explorer (lambda_j = tau2 / (tau2 + sigma2 / n_j))", sliders, draw, (8, 3.6))


# ------------------------------------------------------------ ICC, design effect and power
def power(*, effect, tau2, sigma2, cluster_size, n_clusters, alpha=0.05, simulated=None):
    """Explore the ICC, the design effect and the power for a cluster-level predictor.

    The closed form of :func:`cluster_power`, starting from the true slope ``effect`` (in the units
    of the response), the variances ``tau2`` and ``sigma2`` (the ICC slider splits their fixed sum),
    cluster size m and J clusters.  ``simulated`` (a :func:`mlmkit.power_curve` result or its
    ``table``) is drawn over it for comparison.  Returns an :class:`Explorer` with sliders ``icc``,
    ``cluster_size``, ``n_clusters``, ``effect``: left, power against J; right, power against m at
    the current J (the ceiling that only more clusters lift).
    """
    if not (tau2 > 0 and sigma2 > 0):
        raise ParameterError(f"tau2 and sigma2 must be positive, got tau2={tau2}, sigma2={sigma2}")
    if int(cluster_size) < 1 or int(n_clusters) < 3:
        raise ParameterError("cluster_size must be at least 1 and n_clusters at least 3 (the test has J - 2 df)")
    total = tau2 + sigma2
    sim = simulated.table if hasattr(simulated, "table") else simulated
    if sim is not None and not {"n_clusters", "power", "se"} <= set(sim.columns):
        raise DataError("simulated needs the columns n_clusters, power and se (as PowerCurve.table has)")

    def draw(fig, icc, cluster_size, n_clusters, effect):
        m, J = int(cluster_size), int(n_clusters)
        deff = float(design_effect(icc, m))
        pw = float(cluster_power(effect, icc, m, J, total, alpha))
        left, right = fig.subplots(1, 2)
        Js = np.arange(3, max(2 * J, 60) + 1)
        left.plot(Js, cluster_power(effect, icc, m, Js, total, alpha), color="C0")
        left.plot([J], [pw], "o", color="C3")
        if sim is not None:
            left.errorbar(sim["n_clusters"], sim["power"], yerr=1.96 * sim["se"], fmt="s", ms=4, color="0.3",
                          label="simulated (mk.power_curve)")
            left.legend(fontsize=8, loc="lower right")
        left.set(xlabel="number of clusters $J$", ylabel="power", ylim=(0, 1.02), title=f"m = {m}")
        ms = np.arange(1, max(4 * m, 50) + 1)
        right.plot(ms, cluster_power(effect, icc, ms, J, total, alpha), color="C2")
        right.plot([m], [pw], "o", color="C3")
        right.set(xlabel="cluster size $m$", ylim=(0, 1.02), title=f"J = {J}")
        for ax in (left, right):
            ax.axhline(0.8, ls=":", color="0.5")
        fig.suptitle(f"ICC = {icc:.2f}, design effect = {deff:.2f}, power = {pw:.2f}", fontsize=10)
        return (f"ICC = {icc:.3f}, design effect = 1 + ({m} - 1) x {icc:.3f} = {deff:.3f}\n"
                f"{m * J} units in {J} clusters count as {m * J / deff:.1f} independent units\n"
                f"SE of the slope = {np.sqrt(total * deff / (m * J)):.4f}, power = {pw:.3f} (alpha = {alpha})")

    sliders = {
        "icc": ("FloatSlider", dict(value=tau2 / total, min=0.0, max=0.95, step=0.01)),
        "cluster_size": ("IntSlider", dict(value=int(cluster_size), min=1, max=max(100, int(cluster_size)))),
        "n_clusters": ("IntSlider", dict(value=int(n_clusters), min=3, max=max(200, int(n_clusters)))),
        "effect": ("FloatSlider", dict(value=float(effect), min=0.0, max=max(2.0, 2 * abs(effect)), step=0.01)),
    }
    return Explorer("Design effect and power explorer (cluster-level predictor)", sliders, draw, (8, 3.4))
