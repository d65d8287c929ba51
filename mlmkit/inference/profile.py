"""Likelihood profiles and profile confidence intervals, computed as lme4's ``profile.merMod``.

For a parameter φ (a standard deviation, a correlation, σ, or a fixed effect) the profile is the
signed square root of the deviance increase when φ is held at a value x and every other parameter
is re-optimised:

    ζ(x) = sign(x − φ̂) √( d(x) − d(φ̂) ),    d = the ML deviance (−2 log L),

always on the ML deviance (a REML fit is refitted by ML first, like lme4), with the variance
parameters on lme4's scale: standard deviations, correlations and σ (``sdcor``).  For lmer the
deviance of (sd, cor, σ) is the one with only β profiled out,

    d(θ, σ) = log|L_θ|² + r²(θ)/σ² + n log(2πσ²),   Λ_k Λ_k' = Σ_k(sd, cor)/σ²  (θ from Λ_k),

and a fixed effect β_j held at b adds (b − β̂_j(θ))² / [(R_X'R_X)⁻¹]_jj to r²(θ), with θ
re-optimised and σ profiled out.  For glmer the Laplace deviance of (θ, β) is re-optimised over
all the others.

Points are placed exactly as lme4 places them (``alphamax = 0.01``, ``maxpts = 100``,
``delta.cutoff = 1/8``, ``maxmult = 10``): from the estimate outwards, each step aiming at a ζ
increase of δ = cutoff/8, cutoff = √χ²₀.₉₉(number of parameters), until |ζ| passes the cutoff or the
parameter reaches a bound.  The interval ends are the points where an interpolating natural cubic
spline of ζ against the parameter crosses Φ⁻¹(α/2) and Φ⁻¹(1 − α/2), read from lme4's inverse
(``backSpline``) spline.  An end the profile never reaches is reported as the parameter's bound
(0 for a standard deviation, ±1 for a correlation) with a :class:`ProfileWarning`, as lme4 does.

>>> m = mlmkit.lmer("y ~ X + (1 + X | Cluster)", df)                      # doctest: +SKIP
>>> m.confint(parm="theta_")                                               # doctest: +SKIP
                               2.5 %    97.5 %
sd_(Intercept)|Cluster      1.738842  3.275634
cor_X.(Intercept)|Cluster  -0.284630  0.556792
sd_X|Cluster                0.766172  1.488155
sigma                       1.620569  1.772266
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import chdtri, ndtri

from ..engine.batchfit import BatchDeviance, beta_parts, minimize_bounded
from ..errors import ConvergenceError, ConvergenceWarning, MlmkitWarning, ParameterError
from .parameters import check_level, param_names, percent_labels, resolve_parm, sdcor_to_theta, theta_to_sdcor
from ..engine.pirls import GlmerDevFun

__all__ = ["Profile", "ProfileWarning", "profile", "param_names", "plot_profile"]


class ProfileWarning(MlmkitWarning):
    """A profile that did not reach the requested ζ on one side, or was not monotone."""


# --------------------------------------------------------------------------------------------------
# the deviance to profile
# --------------------------------------------------------------------------------------------------
class _LmerProblem:
    """ML deviance of an lmer model on lme4's profile scale (sd, cor, σ), β profiled out."""

    def __init__(self, m):
        ml = m.refit_ml() if m.REML else m
        d = ml.design
        self.terms, self.n = d.terms, d.nobs
        self.bd = BatchDeviance(d.structure, d.X, d.y if d.offset is None else d.y - d.offset)
        lower = d.theta_lower
        theta, dev, _ = minimize_bounded(self.bd.ml, ml.theta, lower, np.full(len(lower), np.inf))
        if not dev < float(self.bd.ml(ml.theta[None])[0]):   # keep the engine's optimum unless beaten
            theta, dev = ml.theta, float(self.bd.ml(ml.theta[None])[0])
        self.theta_hat, self.base = theta, dev
        ldL2, S = self.bd.schur(theta[None])
        beta, r2, vjj = beta_parts(S)
        self.sigma_hat = float(np.sqrt(r2[0] / self.n))
        self.vnames, self.fnames = param_names(ml)
        self.nvp, self.p = len(self.vnames), len(self.fnames)
        self.opt = np.concatenate([theta_to_sdcor(self.terms, theta[None], [self.sigma_hat])[0],
                                   [self.sigma_hat], beta[0]])
        _set_bounds(self, self.sigma_hat * np.sqrt(vjj[0]), 1e-2 * self.sigma_hat)
        self.npar1 = self.nvp            # jointly re-optimised: the variance parameters only

    def dev(self, P: np.ndarray) -> np.ndarray:
        """ML deviance at variance-parameter rows P (K, nvp), σ last, β profiled out."""
        sig = P[:, -1]
        return self.bd.ml_sigma(sdcor_to_theta(self.terms, P[:, :-1], sig), sig)

    def complete(self, P: np.ndarray) -> np.ndarray:
        """Append β̂ at the rows' θ (the fixed-effect columns of the profile table)."""
        theta = sdcor_to_theta(self.terms, P[:, :-1], P[:, -1])
        return np.hstack([P, beta_parts(self.bd.schur(theta)[1])[0]])

    def fixef_zeta(self, j: int):
        """ζ as a function of β_j (θ re-optimised, σ profiled out)."""
        nt = len(self.theta_hat)
        lower, upper = np.concatenate([t.theta_lower for t in self.terms]), np.full(nt, np.inf)
        est = self.opt[self.nvp + j]

        def zeta(fw, prev):
            start = sdcor_to_theta(self.terms, prev[None, 1:self.nvp], [prev[self.nvp]])[0]
            theta, fv, _ = minimize_bounded(lambda th: self.bd.ml_fixed(th, j, fw), start, lower, upper)
            b, r2j = _held_beta(self.bd.schur(theta[None])[1], j, fw)
            sig = np.sqrt(r2j / self.n)
            z = np.sign(fw - est) * np.sqrt(_devdiff(fv, self.base))
            return np.concatenate([[z], theta_to_sdcor(self.terms, theta[None], [sig])[0], [sig], b])
        return zeta


def _set_bounds(prob, stderr: np.ndarray, sd_floor: float) -> None:
    """The profile's bounds (sd ≥ 0, −1 ≤ cor ≤ 1, β free) and the optimiser's parameter scales."""
    is_cor = np.array([n.startswith("cor_") for n in prob.vnames])
    prob.stderr = stderr
    prob.lower = np.concatenate([np.where(is_cor, -1.0, 0.0), np.full(prob.p, -np.inf)])
    prob.upper = np.concatenate([np.where(is_cor, 1.0, np.inf), np.full(prob.p, np.inf)])
    prob.scale = np.concatenate([np.where(is_cor, 1.0, np.maximum(np.abs(prob.opt[:prob.nvp]), sd_floor)),
                                 np.maximum(np.abs(prob.opt[prob.nvp:]), stderr)])


def _held_beta(S: np.ndarray, j: int, value: float) -> tuple[np.ndarray, float]:
    """(β, r²) at one θ with β_j held at ``value``: β = β̂ + V[:, j] (value − β̂_j) / V_jj, V = S_XX⁻¹."""
    p = S.shape[1] - 1
    V = np.linalg.inv(S[0, :p, :p])
    beta, r2, _ = beta_parts(S)
    d = value - beta[0, j]
    return beta[0] + V[:, j] * d / V[j, j], float(r2[0] + d * d / V[j, j])


def _devdiff(fv: float, base: float, devtol: float = 1e-9) -> float:
    diff = fv - base
    if diff < -devtol * max(1.0, abs(base)) - 1e-6:
        warnings.warn(f"profiling found a deviance {-diff:.3g} below the fit's: the fit had not fully "
                      "converged; the profile near the estimate is not reliable", ConvergenceWarning, stacklevel=4)
    return max(0.0, diff)


# --------------------------------------------------------------------------------------------------
# walking outwards (lme4's nextpar / fillmat)
# --------------------------------------------------------------------------------------------------
def _next_par(rows, cc, delta, lower, upper, maxmult, minstep=1e-6):
    (p0, p1), (z0, z1) = (rows[-2][cc], rows[-1][cc]), (rows[-2][0], rows[-1][0])
    num, denom = p1 - p0, z1 - z0
    if not np.isfinite(denom) or denom == 0:
        warnings.warn("last two profile points have identical or missing ζ: using a minimal step",
                      ProfileWarning, stacklevel=5)
        step = minstep
    else:
        step = delta * num / denom
        if step < 0:
            warnings.warn("unexpected decrease in the profile: using a minimal step", ProfileWarning, stacklevel=5)
            step = minstep
        elif abs(step) > abs(maxmult * num):
            step = np.sign(step) * abs(maxmult * num)
    return min(upper, max(lower, p1 + np.sign(num) * step))


def _fill(rows, cc, zeta, lowcut, upcut, cutoff, delta, maxpts, maxmult):
    rows = list(rows)
    while (len(rows) < maxpts and lowcut < rows[-1][cc] < upcut
           and (np.isnan(rows[-1][0]) or abs(rows[-1][0]) <= cutoff)):
        x = _next_par(rows, cc, delta, lowcut, upcut, maxmult)
        rows.append(zeta(x, rows[-1]))
    return rows


# --------------------------------------------------------------------------------------------------
# splines (R's splines::interpSpline and backSpline)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _BackSpline:
    """Piecewise cubic x(ζ), R's ``backSpline`` of a natural interpolating spline ζ(x)."""

    knots: np.ndarray          # ζ at the profile points (increasing)
    coef: np.ndarray           # (nk, 4): x_i, and the cubic's coefficients on [ζ_i, ζ_{i+1}]

    def __call__(self, z) -> np.ndarray:
        z = np.atleast_1d(np.asarray(z, float))
        k = self.knots
        # R's cut(): intervals (k_i, k_{i+1}], the first one closed at k_0
        i = np.where(z == k[0], 0, np.searchsorted(k, z, side="left") - 1)
        ok = (i >= 0) & (i < len(k) - 1)
        ii = np.where(ok, i, 0)
        dz, c = z - k[ii], self.coef[ii]
        y = c[:, 0] + dz * (c[:, 1] + dz * (c[:, 2] + dz * c[:, 3]))
        return np.where(ok, y, np.nan)


def _splines(x: np.ndarray, z: np.ndarray):
    """(forward natural cubic spline ζ(x), backward spline x(ζ)); raises ValueError like R does."""
    import scipy.interpolate
    if len(x) < 4:
        raise ValueError("fewer than 4 profile points")
    if np.any(np.diff(x) <= 0):
        raise ValueError("profile points are not distinct")
    fwd = scipy.interpolate.CubicSpline(x, z, bc_type="natural")
    adiff, kdiff, nk = np.diff(z), np.diff(x), len(x)          # z: the backward spline's knots
    if not np.all(adiff > 0):
        raise ValueError("spline must be monotone")
    b = np.zeros((nk, 4))
    b[:, 0], b[:, 1] = x, 1.0 / fwd(x, 1)
    for i in range(nk - 1):
        A = np.array([[adiff[i] ** 2, adiff[i] ** 3], [2 * adiff[i], 3 * adiff[i] ** 2]])
        rhs = np.array([kdiff[i] - adiff[i] * b[i, 1], b[i + 1, 1] - b[i, 1]])
        b[i, 2:4] = np.linalg.solve(A, rhs)
    b[-1, 1:] = np.nan
    b[0, 3] = b[nk - 2, 3] = 0.0                  # nk >= 4 here (R's backSpline tests nk > 2)
    b[0, 1:3] = np.linalg.solve(np.array([[adiff[0], adiff[0] ** 2], [1.0, 2 * adiff[0]]]),
                                np.array([kdiff[0], 1.0 / fwd(x[1], 1)]))
    b[nk - 2, 2] = (kdiff[-1] - adiff[-1] * b[nk - 2, 1]) / adiff[-1] ** 2
    if b[0, 2] > 0:
        b[0, 2], b[0, 1] = 0.0, kdiff[0] / adiff[0]
    if b[nk - 2, 2] < 0:
        b[nk - 2, 2], b[nk - 2, 1] = 0.0, kdiff[-1] / adiff[-1]
    return fwd, _BackSpline(z.copy(), b)


# --------------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Profile:
    """A likelihood profile (lme4's ``thpr``).

    ``table`` is lme4's ``as.data.frame(profile(m))`` in long form: one row per profile point with
    ``param`` (the parameter held fixed), ``zeta`` (ζ), ``value`` (that parameter's value), then one
    column per model parameter (all of them at that point, the others re-optimised).
    """

    table: pd.DataFrame
    names: tuple[str, ...]
    lower: dict
    upper: dict
    estimate: dict
    forward: dict = field(repr=False)
    backward: dict = field(repr=False)

    def confint(self, level: float = 0.95, parm=None) -> pd.DataFrame:
        """Profile confidence intervals: where the spline of ζ crosses ±Φ⁻¹((1 + level)/2)."""
        check_level(level)
        a = (1.0 - level) / 2.0
        zq = ndtri(np.array([a, 1.0 - a]))
        names = list(self.names) if parm is None else list(parm)
        out = np.full((len(names), 2), np.nan)
        for k, name in enumerate(names):
            out[k] = self._ends(name, zq, level)
        return pd.DataFrame(out, index=pd.Index(names), columns=percent_labels(level))

    def _ends(self, name, zq, level):
        bak = self.backward.get(name)
        if not isinstance(bak, Exception):
            p = bak(zq)
        else:
            sub = self.table[self.table["param"] == name].sort_values("value")
            z, v = sub["zeta"].to_numpy(), sub["value"].to_numpy()
            keep = np.isfinite(z)
            if not keep.any():
                warnings.warn(f"bad profile for {name}: no point could be computed", ProfileWarning, stacklevel=3)
                return np.full(2, np.nan)
            if np.min(np.diff(z[keep]), initial=0.0) < -0.01:
                warnings.warn(f"non-monotonic profile for {name}: no interval", ProfileWarning, stacklevel=3)
                return np.full(2, np.nan)
            warnings.warn(f"bad spline fit for {name} ({bak}): falling back to linear interpolation",
                          ProfileWarning, stacklevel=3)
            zk = z[keep]
            p = np.where((zq >= zk.min()) & (zq <= zk.max()), np.interp(zq, zk, v[keep]), np.nan)
        for side, what, bound in ((0, "lower", self.lower[name]), (1, "upper", self.upper[name])):
            if np.isnan(p[side]) and bound is not None:
                msg = (f"does not reach the {what} end of the {100 * level:g}% interval before its bound: "
                       f"reporting the bound {bound:g} (the data are consistent with values up to the bound)"
                       if np.isfinite(bound) else
                       f"did not reach the {what} end of the {100 * level:g}% interval: reporting {bound:g}")
                warnings.warn(f"the profile of {name} {msg}", ProfileWarning, stacklevel=3)
                p[side] = bound
        return p

    def plot(self, ax=None, **kwargs):
        """ζ against each parameter (see :func:`plot_profile`)."""
        return plot_profile(self, ax=ax, **kwargs)

    def _repr_html_(self):
        return self.table._repr_html_()


def profile(m, which=None, *, alphamax: float = 0.01, maxpts: int = 100, delta_cutoff: float = 1 / 8,
            maxmult: float = 10.0) -> Profile:
    """Profile the deviance of a fitted lmer (or glmer) model, as lme4's ``profile(m, signames = FALSE)``.

    Parameters
    ----------
    m : LmerResult or GlmerResult
    which : None, "theta_", "beta_", a parameter name or a list of them
        Which parameters to profile (default all: variance parameters, σ, fixed effects).
    alphamax, maxpts, delta_cutoff, maxmult
        lme4's controls: profile until |ζ| > √χ²_{1−alphamax}(number of parameters); at most
        ``maxpts`` points per direction; aim at ζ steps of cutoff·delta_cutoff; never step more
        than ``maxmult`` times the previous step.

    Raises
    ------
    ParameterError
        for an unknown parameter name (the message lists the valid ones).
    """
    prob = _problem(m)
    allnames = prob.vnames + prob.fnames
    idx = resolve_parm(which, prob.vnames, prob.fnames)
    cutoff = float(np.sqrt(chdtri(len(allnames), alphamax)))  # √χ²_{1−alphamax}(npar)
    delta = cutoff * delta_cutoff
    opt_row = np.concatenate([[0.0], prob.opt])
    frames, fwd, bak = [], {}, {}
    for w in idx:
        cc, pw = 1 + w, prob.opt[w]
        if w < prob.npar1:
            zeta = _varpar_zeta(prob, w)
            shift = 0.001 if pw == 0 else pw * 1.01
        else:
            zeta = prob.fixef_zeta(w - prob.nvp)
            shift = pw + delta * prob.stderr[w - prob.nvp]
        lowcut, upcut = prob.lower[w], prob.upper[w]
        first = zeta(shift, opt_row)
        up = _fill([opt_row, first], cc, zeta, lowcut, upcut, cutoff, delta, maxpts, maxmult)
        dn = _fill([first, opt_row], cc, zeta, lowcut, upcut, cutoff, delta, maxpts, maxmult) \
            if pw > lowcut else [first, opt_row]
        rows = np.array([opt_row, first] + up[2:] + dn[2:])
        rows = rows[np.argsort(rows[:, cc], kind="stable")]
        name = allnames[w]
        df = pd.DataFrame(rows[:, 1:], columns=allnames)
        df.insert(0, "value", rows[:, cc])
        df.insert(0, "zeta", rows[:, 0])
        df.insert(0, "param", name)
        frames.append(df)
        ok = np.isfinite(rows[:, 0])
        try:
            fwd[name], bak[name] = _splines(rows[ok, cc], rows[ok, 0])
        except ValueError as exc:
            fwd[name] = bak[name] = exc
    names = [allnames[w] for w in idx]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return Profile(table=table, names=tuple(names),
                   lower={allnames[w]: (prob.lower[w] if w < prob.nvp else None) for w in idx},
                   upper={allnames[w]: (prob.upper[w] if w < prob.nvp else None) for w in idx},
                   estimate={allnames[w]: float(prob.opt[w]) for w in idx}, forward=fwd, backward=bak)


class _GlmerProblem:
    """Laplace (or AGQ) deviance of a glmer model over (sd, cor, β), all profiled jointly (lme4)."""

    def __init__(self, m):
        # A deviance function of its own: PIRLS warm-starts from its last mode, and the fit's own
        # function must not change under the user's feet.
        self.devfun = GlmerDevFun(m.design, m.response, nAGQ=m.nAGQ)
        self.terms = m.design.terms
        self.vnames, self.fnames = param_names(m)
        self.nvp, self.p = len(self.vnames), len(self.fnames)
        self.npar1 = self.nvp + self.p
        self.base = float(m.opt.fun)
        self.opt = np.concatenate([theta_to_sdcor(self.terms, m.theta[None])[0], m.fixef.to_numpy()])
        _set_bounds(self, np.sqrt(np.diag(m.vcov.to_numpy())), 1e-2)

    def dev(self, P: np.ndarray) -> np.ndarray:
        """Deviance at rows (sd/cor..., β...) — one penalised IRLS per row."""
        theta = sdcor_to_theta(self.terms, P[:, :self.nvp])
        out = np.empty(len(P))
        for k in range(len(P)):
            try:
                out[k] = self.devfun(np.concatenate([theta[k], P[k, self.nvp:]]))
            except ConvergenceError:
                out[k] = np.inf
        return out

    def complete(self, P: np.ndarray) -> np.ndarray:
        return P


def _problem(m):
    return _LmerProblem(m) if getattr(m, "family", None) is None else _GlmerProblem(m)


def _varpar_zeta(prob, w: int):
    """ζ as a function of jointly profiled parameter w (the others re-optimised, warm-started)."""
    n1 = prob.npar1
    others = np.array([i for i in range(n1) if i != w], dtype=int)
    lo, up, sc = prob.lower[others], prob.upper[others], prob.scale[others]
    pw = prob.opt[w]

    def zeta(x, prev):
        def full(Q):
            P = np.empty((Q.shape[0], n1))
            P[:, others], P[:, w] = Q, x
            return P
        q, fv, _ = minimize_bounded(lambda Q: prob.dev(full(Q)), prev[1 + others], lo, up, scale=sc)
        z = np.sign(x - pw) * np.sqrt(_devdiff(fv, prob.base))
        return np.concatenate([[z], prob.complete(full(q[None]))[0]])
    return zeta


# --------------------------------------------------------------------------------------------------
# plot
# --------------------------------------------------------------------------------------------------
def plot_profile(prof: Profile, ax=None, *, which=None, level: float = 0.95, absolute: bool = False,
                 ncols: int | None = None):
    """ζ against each profiled parameter, one panel per parameter (lme4's ``xyplot`` of a profile).

    Each panel shows the profile points, the interpolating spline, the horizontal lines
    ζ = ±Φ⁻¹((1 + level)/2) and vertical lines at the interval ends they cut.  With
    ``absolute=True`` |ζ| is drawn (lme4's ``absVal = TRUE``): a straight V means a quadratic
    log-likelihood, where Wald intervals would be accurate.  Returns the array of Axes.
    """
    import matplotlib.pyplot as plt
    names = list(prof.names if which is None else ([which] if isinstance(which, str) else which))
    n = len(names)
    if ax is None:
        ncols = ncols or min(n, 3)
        nrows = int(np.ceil(n / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False)
        for extra in axes.ravel()[n:]:
            extra.set_visible(False)
        axes = axes.ravel()[:n]
    else:
        axes = np.atleast_1d(ax).ravel()
        if len(axes) < n:
            raise ParameterError(f"plot_profile needs {n} Axes (one per parameter), got {len(axes)}")
    zq = float(ndtri(1.0 - (1.0 - level) / 2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProfileWarning)
        ci = prof.confint(level=level, parm=names)
    for axis, name in zip(axes, names):
        sub = prof.table[prof.table["param"] == name]
        x, z = sub["value"].to_numpy(), sub["zeta"].to_numpy()
        tr = np.abs if absolute else (lambda v: v)
        axis.plot(x, tr(z), "o", ms=3, color="C0")
        spl = prof.forward.get(name)
        if not isinstance(spl, Exception) and spl is not None:
            grid = np.linspace(np.nanmin(x), np.nanmax(x), 200)
            axis.plot(grid, tr(spl(grid)), "-", color="C0", lw=1.2)
        for zz in ((zq,) if absolute else (-zq, zq)):
            axis.axhline(zz, color="0.6", lw=0.8, ls="--")
        for end, zz in zip(ci.loc[name].to_numpy(), (-zq, zq)):
            if np.isfinite(end):
                axis.plot([end, end], [0, abs(zz) if absolute else zz], color="C3", lw=0.9)
        axis.set_title(name, fontsize=9)
        axis.set(xlabel="value", ylabel="|ζ|" if absolute else "ζ")
    return axes
