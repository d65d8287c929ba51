"""Power analysis by simulation: how often does a test on a fixed effect reject, for a given design?

For a design of :func:`mlmkit.simulate.multilevel` and the model one would fit, repeat ``nsim``
times: simulate a response from the true model, fit, test H₀: β_test = 0.  The power estimate is
the share of rejections p̂, with its Monte Carlo standard error √(p̂(1 − p̂)/nsim) and an exact
(Clopper-Pearson) interval.

``method="lrt"`` (default) is the likelihood-ratio test of the ML fits with and without β_test,
2(ℓ₁ − ℓ₀) against χ²₁ (``anova(m0, m1)``; with very few clusters it rejects slightly too
often).  ``method="z"`` is the Wald z test β̂/SE(β̂) of the REML fit: the usual choice for glmer
fits, and anti-conservative with few clusters, as it ignores the uncertainty in the variance
components.

By default the covariates and clusters are drawn once per number of clusters and held fixed (as
simr does); each replicate draws new random effects and residuals and refits through the batched
deviance of :mod:`mlmkit.engine.batchfit` (the LRT's null model holds β_test at 0 in the same
factorisation).  ``new_design=True`` redraws the covariates as well (slower).  Replicate b uses
``SeedSequence(seed)`` children, so results are identical for any ``n_jobs``.
"""
from __future__ import annotations

import dataclasses
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.special
from scipy.special import betaincinv, chdtrc, ndtr

from .engine.batchfit import BatchDeviance, beta_parts, minimize_bounded
from .inference.montecarlo import check_n_jobs, run_chunks, seed_sequence
from .errors import MlmkitError, ParameterError
from .engine.optimize import SINGULAR_TOL
from .simulate import cov_sqrt, fixed_part, is_count, multilevel

__all__ = ["power", "power_curve", "PowerResult", "PowerCurve", "plot_power_curve"]

_METHODS = {"lrt": "likelihood-ratio test", "z": "Wald z test"}
_DESIGN_KEYS = {"cluster_size", "fixed", "re_cov", "re_terms", "sigma2", "family", "link", "trials",
                "n_upper", "upper_cov", "upper_terms"}


# ------------------------------------------------------------ the true model, on a fixed design
@dataclass(frozen=True, eq=False)
class _TruthModel:
    """Draws responses y* from the true parameters on the covariates of one simulated data set."""

    eta_fixed: np.ndarray
    levels: tuple                  # (codes (n,), term columns T (n, q), sqrt of covariance A (q, q))
    sd_e: float | None
    family: str
    link: str
    trials: np.ndarray

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> "_TruthModel":
        truth, n = df.attrs["truth"], len(df)
        cols = {c: df[c].to_numpy(float) for c in df.columns}
        levels = []
        for col, terms, cov in (("cluster", truth.re_terms, truth.re_cov),
                                ("upper", truth.upper_terms, truth.upper_cov)):
            if terms is not None:
                T = np.column_stack([np.ones(n) if t == "(Intercept)" else cols[t] for t in terms])
                levels.append((pd.factorize(df[col])[0], T, cov_sqrt(np.asarray(cov, float))))
        sd_e = None if truth.sigma2 is None else float(np.sqrt(truth.sigma2))
        return cls(fixed_part(truth.fixed, cols, n), tuple(levels), sd_e, truth.family, truth.link,
                   cols.get("trials", np.ones(n)))

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """y* = Xβ + Zu*, u* ~ N(0, Σ) per unit, plus the family's noise (counts for binomial/Poisson)."""
        eta = self.eta_fixed.copy()
        for codes, T, A in self.levels:
            U = rng.standard_normal((codes.max() + 1, A.shape[0])) @ A.T
            eta += np.einsum("ij,ij->i", T, U[codes])
        if self.family == "gaussian":
            return eta + self.sd_e * rng.standard_normal(len(eta))
        if self.family == "binomial":
            p = scipy.special.expit(eta) if self.link == "logit" else ndtr(eta)
            return rng.binomial(self.trials.astype(np.int64), p).astype(float)
        return rng.poisson(np.exp(eta)).astype(float)


# ---------------------------------------- one scenario (one number of clusters) and its replicates
@dataclass(frozen=True, eq=False)
class _Scenario:
    formula: str
    test: str
    method: str
    sim_args: dict
    new_design: bool
    design: object                 # Design of the formula on the scenario's data set
    j: int                         # column of the tested effect in X
    truth: _TruthModel
    start: np.ndarray              # θ start (a pilot fit)
    full: object = None            # glmer: fitted full and null models (refit per replicate)
    null: object = None


def _fit_pilot(formula: str, df: pd.DataFrame, family: str, link: str):
    from .glmm import glmer
    from .lmm import lmer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family == "gaussian":
            return lmer(formula, df, REML=False, warn=False)
        from .spec.families import get_family
        return glmer(formula, df, family=get_family(family, link))


def _test_column(design, test: str, formula: str) -> int:
    names = list(design.fixef_names)
    if test not in names:
        raise ParameterError(f"the tested effect {test!r} is not a fixed effect of {formula!r}; its fixed "
                             f"effects are: {', '.join(repr(n) for n in names)}")
    if names == [test]:
        raise ParameterError(f"{test!r} is the only fixed effect: the null model would have none")
    return names.index(test)


def _glmer_null(full, j: int):
    """The glmer model with column j of X removed (β_j = 0), fitted to the same data."""
    from .glmm import mk_glmer_mod, optimize_glmer
    from .engine.pirls import GlmerDevFun
    d = full.design
    d0 = d.replace(X=np.delete(d.X, j, axis=1),
                   fixef_names=tuple(n for k, n in enumerate(d.fixef_names) if k != j))
    f0 = GlmerDevFun(d0, full.response, nAGQ=full.nAGQ)
    beta0 = np.delete(full.fixef.to_numpy(), j)
    return mk_glmer_mod(f0, optimize_glmer(f0, start={"theta": full.theta, "fixef": beta0}), warn=False)


def _scenario(formula, test, method, sim_args, new_design, design_seed) -> _Scenario:
    df = multilevel(**sim_args, seed=np.random.default_rng(design_seed))
    truth = _TruthModel.from_frame(df)
    pilot = _fit_pilot(formula, df, truth.family, truth.link)
    j = _test_column(pilot.design, test, formula)
    full, null = (pilot, _glmer_null(pilot, j)) if truth.family != "gaussian" else (None, None)
    return _Scenario(formula, test, method, sim_args, new_design, pilot.design, j, truth,
                     np.asarray(pilot.theta, float), full, null)


def _lmer_replicate(sc: _Scenario, design, y: np.ndarray, j: int):
    """(p-value, estimate, singular) of one lmer replicate from the batched deviance."""
    yy = y if design.offset is None else y - design.offset
    bd = BatchDeviance(design.structure, design.X, yy)
    lower, tol = design.theta_lower, 1e-8    # a test needs deviances to ~1e-8, not a fit's 1e-11
    upper = np.full(len(lower), np.inf)
    if sc.method == "lrt":
        th, d1, _ = minimize_bounded(bd.ml, sc.start, lower, upper, ftol=tol)
        _, d0, _ = minimize_bounded(lambda t: bd.ml_fixed(t, j, 0.0), th, lower, upper, ftol=tol)
        beta = beta_parts(bd.schur(th[None])[1])[0][0, j]
        p = float(chdtrc(1, max(d0 - d1, 0.0)))
    else:
        th, _, _ = minimize_bounded(bd.reml, sc.start, lower, upper, ftol=tol)
        betas, r2, vjj = beta_parts(bd.schur(th[None])[1])
        beta = betas[0, j]
        p = float(2.0 * ndtr(-abs(beta / np.sqrt(r2[0] / (bd.n - bd.p) * vjj[0, j]))))
    return p, float(beta), bool(np.any(th[np.isfinite(lower)] < SINGULAR_TOL))


def _glmer_replicate(sc: _Scenario, y: np.ndarray):
    yarg = np.column_stack([y, sc.truth.trials - y]) if sc.full.design.response.shape[1] == 2 else \
        np.divide(y, sc.truth.trials)
    f1 = sc.full.refit(yarg)
    est, sing = float(f1.fixef.iloc[sc.j]), bool(f1.is_singular)
    if sc.method == "lrt":
        f0 = sc.null.refit(yarg)
        return float(chdtrc(1, max(2.0 * (f1.loglik - f0.loglik), 0.0))), est, sing
    se = float(np.sqrt(f1.vcov.iloc[sc.j, sc.j]))
    return float(2.0 * ndtr(-abs(est / se))), est, sing


def _run_chunk(sc: _Scenario, seeds) -> np.ndarray:
    """Rows (p-value, estimate, singular, failed) for a list of replicate SeedSequences."""
    from .spec.design import lformula
    out = np.full((len(seeds), 4), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, ss in enumerate(seeds):
            rng = np.random.default_rng(ss)
            try:
                if sc.new_design:
                    df = multilevel(**sc.sim_args, seed=rng)
                    if sc.truth.family != "gaussian":
                        full = _fit_pilot(sc.formula, df, sc.truth.family, sc.truth.link)
                        sc2 = dataclasses.replace(sc, full=full, null=_glmer_null(full, sc.j),
                                                  truth=_TruthModel.from_frame(df))
                        p, est, sing = _glmer_replicate(sc2, df["y"].to_numpy(float))
                    else:
                        design = lformula(sc.formula, df)
                        p, est, sing = _lmer_replicate(sc, design, design.y, sc.j)
                elif sc.truth.family == "gaussian":
                    p, est, sing = _lmer_replicate(sc, sc.design, sc.truth.draw(rng), sc.j)
                else:
                    p, est, sing = _glmer_replicate(sc, sc.truth.draw(rng))
                out[k] = (p, est, float(sing), 0.0)
            except (MlmkitError, np.linalg.LinAlgError, FloatingPointError):
                out[k, 3] = 1.0
    return out


def _check_args(formula, test, nsim, alpha, method, n_jobs):
    if not isinstance(formula, str) or "~" not in formula:
        raise ParameterError(f"formula must be an lme4 formula string such as 'y ~ x1 + (1 | cluster)', got {formula!r}")
    if not isinstance(test, str):
        raise ParameterError(f"test must name a fixed effect of the formula, e.g. 'x1', got {test!r}")
    if not is_count(nsim):
        raise ParameterError(f"nsim must be a positive integer, got {nsim!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 < alpha < 1.0:
        raise ParameterError(f"alpha must be a significance level strictly between 0 and 1, got {alpha!r}")
    if method not in _METHODS:
        raise ParameterError(f"unknown test method {method!r}: use 'lrt' (likelihood ratio) or 'z' (Wald)")
    check_n_jobs(n_jobs)


def _simulate_scenarios(formula, test, cluster_counts, nsim, alpha, method, seed, n_jobs, progress,
                        new_design, design_args) -> list["PowerResult"]:
    _check_args(formula, test, nsim, alpha, method, n_jobs)
    unknown = set(design_args) - _DESIGN_KEYS
    if unknown:
        raise ParameterError(f"unknown design argument(s) {sorted(unknown)}: the design is described by "
                             f"n_clusters and {sorted(_DESIGN_KEYS)} (see mlmkit.simulate.multilevel)")
    roots = seed_sequence(seed).spawn(len(cluster_counts))
    scenarios, chunks, size = [], [], max(1, min(50, nsim // 8))
    for s, (J, root) in enumerate(zip(cluster_counts, roots)):
        dseed, rseed = root.spawn(2)
        sim_args = dict(design_args, n_clusters=J)
        scenarios.append(_scenario(formula, test, method, sim_args, new_design, dseed))
        reps = rseed.spawn(nsim)
        chunks += [(s, reps[k:k + size]) for k in range(0, nsim, size)]
    results = run_chunks(_run_chunk, [(scenarios[s], reps) for s, reps in chunks], [len(reps) for _, reps in chunks],
                         n_jobs=n_jobs, progress=progress, desc="power")
    out = []
    for s, (sc, J) in enumerate(zip(scenarios, cluster_counts)):
        r = np.vstack([res for (t, _), res in zip(chunks, results) if t == s])
        out.append(PowerResult(test=test, method=method, alpha=float(alpha), n_clusters=J,
                               design={k: v for k, v in sc.sim_args.items() if k != "n_clusters"},
                               formula=formula, pvalues=r[:, 0], estimates=r[:, 1],
                               singular=r[:, 2] == 1.0, failed=r[:, 3] == 1.0))
    return out


def power(formula: str, test: str, *, n_clusters: int = 20, nsim: int = 1000, alpha: float = 0.05,
          method: str = "lrt", seed=None, n_jobs: int = 1, progress: bool = True, new_design: bool = False,
          **design) -> "PowerResult":
    """Power of a test on one fixed effect, by simulation.

    Returns a :class:`PowerResult`: ``power``, ``se`` (Monte Carlo standard error), ``ci()``, the
    p-values and estimates.  Raises ParameterError for an effect not in the model, a bad
    ``nsim``/``alpha``/``method`` or an unknown design argument (and whatever
    :func:`mlmkit.simulate.multilevel` says about the design).

    Parameters
    ----------
    formula : str
        The model fitted to each simulated data set, in the simulator's column names (``y``,
        ``x1``…, ``z1``…, ``cluster``, ``upper``), e.g. ``"y ~ x1 + (1 + x1 | cluster)"``.
    test : str
        The fixed effect tested against 0, as named in the fit (``"x1"``, ``"x1:z1"``).
    n_clusters, nsim, alpha : int, int, float
        Number of clusters; number of simulated data sets; significance level of the test.
    method : "lrt" or "z"
        Likelihood-ratio test (ML fits) or Wald z test (REML fit); see the module docstring.
    seed, n_jobs, progress
        None, an int or a SeedSequence (reproducible for any ``n_jobs``); joblib workers; tqdm bar.
    new_design : bool
        Redraw the covariates for every replicate (default: once, then held fixed).
    **design
        The design and true parameters, passed to :func:`mlmkit.simulate.multilevel`:
        ``cluster_size``, ``fixed``, ``re_cov``, ``re_terms``, ``sigma2``, ``family``, ``link``,
        ``trials``, ``n_upper``, ``upper_cov``, ``upper_terms``.
    """
    return _simulate_scenarios(formula, test, [n_clusters], nsim, alpha, method, seed, n_jobs, progress,
                               new_design, design)[0]


def power_curve(formula: str, test: str, n_clusters, *, nsim: int = 1000, alpha: float = 0.05,
                method: str = "lrt", seed=None, n_jobs: int = 1, progress: bool = True,
                new_design: bool = False, **design) -> "PowerCurve":
    """Power over a range of cluster counts (same arguments as :func:`power`, ``n_clusters`` a list).

    Returns a :class:`PowerCurve`: ``table`` (one row per cluster count: power, Monte Carlo SE,
    95% interval, failures, singular fits) and ``plot()``.
    """
    counts = list(n_clusters) if not isinstance(n_clusters, numbers.Integral) else [n_clusters]
    if not counts or not all(is_count(c, 2) for c in counts):
        raise ParameterError(f"n_clusters must be a list of whole numbers >= 2, got {n_clusters!r}")
    results = _simulate_scenarios(formula, test, counts, nsim, alpha, method, seed, n_jobs, progress,
                                  new_design, design)
    return PowerCurve(tuple(results))


# ------------------------------------------------------------ results
@dataclass(frozen=True, eq=False)
class PowerResult:
    """Simulated rejections of H₀: β_test = 0 for one design."""

    test: str
    method: str
    alpha: float
    n_clusters: int
    design: dict
    formula: str
    pvalues: np.ndarray = field(repr=False)
    estimates: np.ndarray = field(repr=False)
    singular: np.ndarray = field(repr=False)
    failed: np.ndarray = field(repr=False)

    @property
    def nsim(self) -> int:
        return len(self.pvalues)

    @property
    def n_ok(self) -> int:
        return int((~self.failed).sum())

    @property
    def rejections(self) -> int:
        return int((self.pvalues[~self.failed] < self.alpha).sum())

    @property
    def power(self) -> float:
        """Share of the successful fits whose test rejected at ``alpha``."""
        return self.rejections / self.n_ok if self.n_ok else float("nan")

    @property
    def se(self) -> float:
        """Monte Carlo standard error √(p̂(1 − p̂)/nsim)."""
        p = self.power
        return float(np.sqrt(p * (1.0 - p) / self.n_ok)) if self.n_ok else float("nan")

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Exact (Clopper-Pearson) interval for the power."""
        from .inference.parameters import check_level
        level = check_level(level)
        if not self.n_ok:
            return float("nan"), float("nan")
        k, n, a = self.rejections, self.n_ok, (1.0 - level) / 2.0     # Clopper-Pearson: beta quantiles
        return (0.0 if k == 0 else float(betaincinv(k, n - k + 1, a)),
                1.0 if k == n else float(betaincinv(k + 1, n - k, 1.0 - a)))

    def row(self) -> dict:
        lo, hi = self.ci()
        return {"n_clusters": self.n_clusters, "power": self.power, "se": self.se, "lower": lo, "upper": hi,
                "nsim": self.nsim, "failed": int(self.failed.sum()), "singular": int(self.singular[~self.failed].sum())}

    def __repr__(self) -> str:
        r = self.row()
        extra = "".join(f", {r[k]} {k} fits" for k in ("failed", "singular") if r[k])
        return (f"Power for {self.test} ({_METHODS[self.method]}, alpha = {self.alpha:g}), "
                f"{self.n_clusters} clusters: {100 * r['power']:.1f}% (95% CI "
                f"{100 * r['lower']:.1f}% to {100 * r['upper']:.1f}%, Monte Carlo SE "
                f"{100 * r['se']:.1f}%); {self.nsim} simulations{extra}")


@dataclass(frozen=True, eq=False)
class PowerCurve:
    """Power as a function of the number of clusters."""

    results: tuple

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame([r.row() for r in self.results])

    def plot(self, ax=None, **kwargs):
        return plot_power_curve(self, ax=ax, **kwargs)

    def _repr_html_(self):
        return self.table._repr_html_()

    def __repr__(self) -> str:
        r = self.results[0]
        return f"Power for {r.test} ({_METHODS[r.method]}, alpha = {r.alpha:g})\n" + self.table.to_string(index=False)


def plot_power_curve(curve, ax=None, *, target: float | None = 0.8, color: str = "C0"):
    """Estimated power against the number of clusters, with 95% Clopper-Pearson bars.

    ``curve``: a :class:`PowerCurve` (or its ``table``).  A dashed line marks ``target`` power
    (None for none).  Returns the Axes.
    """
    import matplotlib.pyplot as plt
    t = curve.table if isinstance(curve, PowerCurve) else curve
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    x, p = t["n_clusters"].to_numpy(float), t["power"].to_numpy(float)
    ax.errorbar(x, p, yerr=[p - t["lower"].to_numpy(float), t["upper"].to_numpy(float) - p], fmt="o-",
                color=color, capsize=3, lw=1.2, ms=4)
    if target is not None:
        ax.axhline(target, color="0.5", ls="--", lw=0.8)
    ax.set_ylim(0, 1.02)
    ax.set(xlabel="number of clusters", ylabel="power")
    if isinstance(curve, PowerCurve):
        r = curve.results[0]
        ax.set_title(f"{r.test}: {_METHODS[r.method]}, alpha = {r.alpha:g}", fontsize=10)
    return ax
