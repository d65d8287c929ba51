"""Parametric bootstrap: simulate responses from a fitted model, refit, collect a statistic.

lme4's ``simulate()`` / ``refit()`` / ``bootMer()``.  One replicate b = 1..nsim:

    u*_b ~ N(0, I),  b*_b = σ Λ(θ̂) u*_b           (new random effects; ``use_re=True`` keeps b̂)
    y*_b = X β̂ + Z b*_b + offset + σ ε*_b,  ε*_b ~ N(0, I)          (lmer)
    y*_b ~ family(μ = g⁻¹(X β̂ + Z b*_b + offset))                    (glmer: binomial, Poisson)
    t*_b = statistic(refit(m, y*_b))

The refit keeps the design (X, Z, grouping) and starts at θ̂; only the response changes.  Each
replicate draws from its own stream, ``np.random.SeedSequence(seed).spawn(nsim)[b]``, so the
replicates are the same whether they run in one process or in ``n_jobs`` joblib workers.  Work is
shipped to workers in chunks and a tqdm bar counts finished replicates.

Workers take a few seconds to start (each imports mlmkit), so ``n_jobs > 1`` pays off for runs
of a minute or more; one refit of a tutorial-sized lmer model takes a few milliseconds.  Beyond one
machine, joblib's Dask backend runs the same code on a cluster: connect a
``dask.distributed.Client("scheduler-address:8786")``, then run the bootstrap inside the
``joblib.parallel_config(backend="dask")`` block shown in :mod:`mlmkit.inference.montecarlo`.

Percentile intervals follow ``boot::boot.ci(type = "perc")`` (order statistics interpolated on the
normal scale), which lme4's ``confint(method = "boot")`` uses.
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ..engine.batchfit import refit as _refit
from ..errors import MlmkitError, MlmkitWarning, ParameterError
from .montecarlo import check_n_jobs, chunked, run_chunks, seed_sequence, worker_chunk_size
from .parameters import check_level, param_names, percent_labels, theta_to_sdcor

__all__ = ["simulate", "bootstrap", "BootstrapResult", "default_statistic", "refit", "seed_sequence"]


class BootstrapWarning(MlmkitWarning):
    """Some bootstrap refits failed, or a percentile needed an extreme order statistic."""


# --------------------------------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------------------------------
def _new_random_effects(m, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Z b* with b* ~ N(0, scale² Λ Λ') for every term (n,)."""
    out = np.zeros(m.nobs)
    for t in m.design.terms:
        lam = t.lambda_block(m.theta)
        b = scale * rng.standard_normal((t.n_levels, t.q)) @ lam.T          # rows: levels
        out += np.einsum("ij,ij->i", t.values, b[t.codes])
    return out


def _simulate_one(m, rng: np.random.Generator, use_re: bool) -> np.ndarray:
    family = getattr(m, "family", None)
    if use_re:
        eta = m.predict(type="link")
    else:
        eta = m.predict(re_form="~0", type="link") + _new_random_effects(m, rng, m.sigma if family is None else 1.0)
    if family is None:
        return eta + m.sigma * rng.standard_normal(m.nobs)
    mu = family.linkinv(eta)
    if family.name == "binomial":
        trials = np.asarray(m.trials, float)
        k = rng.binomial(np.round(trials).astype(np.int64), np.clip(mu, 0.0, 1.0))
        return np.divide(k, trials, out=np.zeros(m.nobs), where=trials > 0)
    if family.name == "poisson":
        return rng.poisson(mu).astype(float)
    raise ParameterError(f"simulate() supports gaussian (lmer), binomial and Poisson models, not {family}")


def simulate(m, nsim: int = 1, seed=None, use_re: bool = False) -> pd.DataFrame:
    """New responses from a fitted model (lme4's ``simulate(m, nsim, seed)``).

    Parameters
    ----------
    m : LmerResult or GlmerResult
    nsim : int
        Number of simulated responses.
    seed : None, int, SeedSequence or Generator
        Replicate b uses the stream ``SeedSequence(seed).spawn(nsim)[b]`` (as :func:`bootstrap`).
    use_re : bool
        False (lme4's default, ``re.form = NA``): draw new random effects from N(0, σ²ΛΛ') — new
        clusters from the same population.  True (``re.form = NULL``): keep the estimated random
        effects b̂ — the same clusters, new observations.

    Returns
    -------
    pandas.DataFrame
        ``nobs`` rows and columns ``sim_1`` … ``sim_<nsim>``.  Binomial responses are proportions of
        the model's trials (what :meth:`refit` takes back), Poisson responses counts.
    """
    children = seed_sequence(seed).spawn(_count(nsim, "nsim"))
    return pd.DataFrame({f"sim_{b + 1}": _simulate_one(m, np.random.default_rng(ss), use_re)
                         for b, ss in enumerate(children)})


def refit(m, y):
    """``m`` refitted to response ``y`` with the same design, warm-started (lmer: the batched fast path).

    lme4's ``refit``; the one implementation is :func:`mlmkit.engine.batchfit.refit`.
    """
    return _refit(m, y, batched=True)


def default_statistic(fit) -> pd.Series:
    """lme4's ``bootFun``: standard deviations, correlations, σ and fixed effects, with confint's names."""
    vnames, fnames = param_names(fit)
    sig = None if fit._residual_sd is None else [fit.sigma]
    vals = list(theta_to_sdcor(fit.design.terms, fit.theta[None], sig)[0]) + (sig or [])
    return pd.Series(vals + list(fit.fixef.to_numpy()), index=vnames + fnames)


# --------------------------------------------------------------------------------------------------
# the bootstrap
# --------------------------------------------------------------------------------------------------
def _count(n, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ParameterError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


def _as_row(value) -> tuple[list, list | None]:
    """A statistic's value as (values, names or None)."""
    if isinstance(value, pd.Series):
        return list(value.to_numpy(float)), [str(i) for i in value.index]
    if isinstance(value, dict):
        return [float(v) for v in value.values()], [str(k) for k in value]
    return list(np.atleast_1d(np.asarray(value, float)).ravel()), None


def _run_chunk(m, statistic, seeds, use_re):
    """Replicates for a list of SeedSequences: (values or None, error message or None) each."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ss in seeds:
            try:
                fit = refit(m, _simulate_one(m, np.random.default_rng(ss), use_re))
                out.append((_as_row(statistic(fit))[0], None))
            except (MlmkitError, np.linalg.LinAlgError, FloatingPointError) as exc:
                out.append((None, f"{type(exc).__name__}: {exc}"))
    return out


def bootstrap(m, statistic=None, nsim: int = 500, seed=None, n_jobs: int = 1, progress: bool = True,
              use_re: bool = False) -> "BootstrapResult":
    """Parametric bootstrap of ``statistic`` (lme4's ``bootMer``).

    Parameters
    ----------
    m : LmerResult or GlmerResult
        The fitted model to simulate from and refit.
    statistic : callable, optional
        ``statistic(fit)`` → a number, array, dict or Series (named values become the columns of
        ``replicates``).  Default: :func:`default_statistic` (sds, correlations, σ, fixed effects).
    nsim : int
        Number of replicates.
    seed : None, int, SeedSequence or Generator
        Reproducible whatever ``n_jobs`` is: replicate b uses ``SeedSequence(seed).spawn(nsim)[b]``.
    n_jobs : int
        joblib workers (1: in this process; -1: one per core; a Dask cluster through
        ``joblib.parallel_config(backend="dask")``, see the module docstring).
    progress : bool
        Show a tqdm progress bar.
    use_re : bool
        Simulate conditionally on the estimated random effects (see :func:`simulate`).

    Returns
    -------
    BootstrapResult
        ``replicates`` (DataFrame, nsim rows; NaN where a refit failed), ``t0`` (the statistic on
        the fit itself), ``confint(level)``.

    A refit that fails leaves a row of NaN and is counted in ``n_failed`` (with a warning), as lme4's
    ``bootMer`` does.
    """
    statistic = default_statistic if statistic is None else statistic
    if not callable(statistic):
        raise ParameterError("statistic must be a function of a fitted model, e.g. lambda fit: fit.fixef['X']")
    nsim = _count(nsim, "nsim")
    n_jobs = check_n_jobs(n_jobs)
    root = seed_sequence(seed)
    t0_vals, names = _as_row(statistic(m))
    chunks = chunked(root.spawn(nsim), 10 if n_jobs == 1 else worker_chunk_size(nsim, n_jobs))
    parts = run_chunks(_run_chunk, [(m, statistic, c, use_re) for c in chunks], [len(c) for c in chunks],
                       n_jobs=n_jobs, progress=progress, desc="bootstrap")
    k = len(t0_vals)
    values, errors = np.full((nsim, k), np.nan), []
    for b, (vals, err) in enumerate(row for part in parts for row in part):
        if vals is None:
            errors.append(err)
        elif len(vals) != k:
            raise ParameterError(f"the statistic returned {len(vals)} values for replicate {b + 1} but {k} for "
                                 "the original fit: it must return the same number every time")
        else:
            values[b] = vals
    names = names or ([getattr(statistic, "__name__", "t")] if k == 1 else [f"t{i + 1}" for i in range(k)])
    if errors:
        warnings.warn(f"{len(errors)} of {nsim} bootstrap refits failed (their rows are NaN); first: {errors[0]}",
                      BootstrapWarning, stacklevel=2)
    return BootstrapResult(replicates=pd.DataFrame(values, columns=names),
                           t0=pd.Series(t0_vals, index=names), nsim=nsim, seed=root.entropy,
                           n_failed=len(errors), errors=tuple(errors))


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Replicates of a parametric bootstrap (lme4's ``bootMer`` result, boot's ``t`` and ``t0``)."""

    replicates: pd.DataFrame
    t0: pd.Series
    nsim: int
    seed: int | None
    n_failed: int
    errors: tuple

    def confint(self, level: float = 0.95, type: str = "perc") -> pd.DataFrame:
        """Bootstrap intervals: ``"perc"`` (default), ``"basic"`` or ``"norm"``, as boot::boot.ci.

        perc:  the α/2 and 1 − α/2 quantiles of the replicates (interpolated as boot's ``norm.inter``);
        basic: 2 t0 − (those quantiles, swapped);  norm: t0 − bias ∓ Φ⁻¹(1 − α/2)·sd(t*).
        """
        level = check_level(level)
        a = (1.0 - level) / 2.0
        alphas = np.array([a, 1.0 - a])
        out, extreme = np.full((self.replicates.shape[1], 2), np.nan), False
        for j, col in enumerate(self.replicates.columns):
            t = self.replicates[col].to_numpy()
            t = t[np.isfinite(t)]
            if t.size < 2:
                continue
            t0 = float(self.t0.iloc[j])
            if type == "perc":
                out[j], ext = _norm_inter(t, alphas)
            elif type == "basic":
                q, ext = _norm_inter(t, alphas[::-1])
                out[j] = 2.0 * t0 - q
            elif type == "norm":
                ext, bias, half = False, t.mean() - t0, t.std(ddof=1) * ndtri(1.0 - a)
                out[j] = [t0 - bias - half, t0 - bias + half]
            else:
                raise ParameterError(f"unknown bootstrap interval type {type!r}: use 'perc', 'basic' or 'norm'")
            extreme |= ext
        if extreme:
            warnings.warn(f"extreme order statistics used as endpoints: {self.nsim} replicates are too few for a "
                          f"{100 * level:g}% interval", BootstrapWarning, stacklevel=2)
        return pd.DataFrame(out, index=self.replicates.columns, columns=percent_labels(level))

    def _repr_html_(self):
        return self.summary()._repr_html_()

    def summary(self) -> pd.DataFrame:
        """original, bias (mean of replicates − original) and std. error of each statistic (boot's print)."""
        rep = self.replicates
        return pd.DataFrame({"original": self.t0.to_numpy(), "bias": rep.mean().to_numpy() - self.t0.to_numpy(),
                             "std. error": rep.std(ddof=1).to_numpy()}, index=rep.columns)

    def __repr__(self):
        head = f"Parametric bootstrap: {self.nsim} replicates" + (f", {self.n_failed} failed" if self.n_failed else "")
        return head + "\n" + self.summary().to_string()


def _norm_inter(t: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, bool]:
    """boot's ``norm.inter``: order statistic (R + 1)α, interpolated on the normal quantile scale."""
    t, R = np.sort(t), len(t)
    rk = (R + 1) * alpha
    extreme = not np.all((rk > 1) & (rk < R))
    k = np.trunc(rk).astype(int)
    out = np.empty(len(alpha))
    for i in range(len(alpha)):
        if k[i] == rk[i] and 0 < k[i] <= R:
            out[i] = t[k[i] - 1]
        elif k[i] <= 0:
            out[i] = t[0]
        elif k[i] >= R:
            out[i] = t[-1]
        else:
            z1, z2, z3 = ndtri([alpha[i], k[i] / (R + 1), (k[i] + 1) / (R + 1)])
            out[i] = t[k[i] - 1] + (z1 - z2) / (z3 - z2) * (t[k[i]] - t[k[i] - 1])
    return out, extreme
