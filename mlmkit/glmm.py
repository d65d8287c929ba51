"""Generalized linear mixed models: lme4's ``glmer`` (Laplace approximation and adaptive Gauss-Hermite).

    d   = glmer_design(formula, data, family, weights, offset)   # lFormula + the family's response
    f   = GlmerDevFun(d.design, d.response, nAGQ)                # deviance of (θ, β); see mlmkit.pirls
    opt = optimize_glmer(f)                                      # stage 1 (θ), stage 2 (θ, β), Hessian
    m   = mk_glmer_mod(f, opt)                                   # GlmerResult

The two stages follow lme4: stage 1 minimises the nAGQ = 0 objective over θ with β found inside
PIRLS (BOBYQA, as lme4); stage 2 minimises the Laplace (or AGQ) deviance over (θ, β) jointly from
there.  Stage 2 is a quasi-Newton method on finite-difference Hessians (where lme4 runs Nelder-Mead
and computes the Hessian afterwards): it ends with a central-difference Hessian H at the optimum,
lme4's ``deriv12`` step 1e-4, from which the standard errors follow as in lme4's ``vcov``:

    Var(β̂) = 2 · [H⁻¹]_ββ          (H of the deviance −2 log L over (θ, β))

Holding θ fixed instead (the curvature in β alone) understates them (rats: 0.1097 against 0.1211).
When a Newton step fails (no decrease), NLopt's BOBYQA takes over.

With one grouping factor and 20,000 rows or more (binomial or Poisson, canonical link), the
deviance has an analytic gradient (:meth:`mlmkit.onefactor.OneFactorPLS.gradient`): the Newton
steps then use it, and H comes from central differences of gradients (same step 1e-4, 2k
PIRLS runs instead of k(k + 1)); stage 1 stops earlier there (θ to 0.03, the deviance to 0.1).
"""
from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg

from .optimize import GradientDifferences, ValueDifferences, bobyqa, check_conv, fd_hessian, free_parameters
from .design import Design, lformula
from .errors import ConvergenceWarning, DataError, ParameterError
from .families import Family, get_family
from .linalg import blas_threads
from .validate import as_frame
from .pirls import GlmerDevFun, GlmResponse, PirlsState, constant_rows, glm_response
from .frozen import frozen_cached
from .results import MixedModelResult, warn_about_fit

__all__ = ["glmer", "GlmerResult", "GlmerOpt", "GlmerDesign", "glmer_design", "optimize_glmer"]

_W_COL, _O_COL = "(weights)", "(offset)"


# --- response -------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GlmerDesign:
    design: Design
    response: GlmResponse


def _column_or_array(value, data: pd.DataFrame, what: str):
    """A weights/offset argument as (column name, None) or (None, float array of len(data))."""
    if isinstance(value, str):
        if value not in data.columns:
            raise DataError(f"{what} column '{value}' is not in the data")
        dt = data[value].dtype
        if not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)):
            raise DataError(f"{what} column '{value}' must be numeric, but it holds {dt} values; convert it "
                            f"first, e.g. pd.to_numeric(df['{value}'])")
        return value, None
    arr = np.asarray(value, dtype=float).ravel() if not isinstance(value, pd.Series) else value.to_numpy(float)
    if arr.shape != (len(data),):
        raise DataError(f"{what} has length {arr.size} but the data have {len(data)} rows: give one value per row")
    return None, arr


def glmer_design(formula: str, data: pd.DataFrame, family, weights=None, offset=None) -> GlmerDesign:
    """Parse the formula (:func:`mlmkit.design.lformula`) and build the family's response.

    Raises
    ------
    FamilyError, DataError, FormulaError
        e.g. ``DataError: weights has length 10 but the data have 71 rows``.
    """
    fam = get_family(family)
    data = as_frame(data)
    extra, frame = [], data
    wcol = ocol = None
    if weights is not None:
        wcol, warr = _column_or_array(weights, data, "weights")
        if warr is not None:
            frame, wcol = frame.assign(**{_W_COL: warr}), _W_COL
        extra.append(wcol)
    if offset is not None:
        ocol, oarr = _column_or_array(offset, data, "offset")
        if oarr is not None:
            frame, ocol = frame.assign(**{_O_COL: oarr}), _O_COL
        extra.append(ocol)
    design = lformula(formula, frame, check_levels=False, numeric_response=False, extra_columns=tuple(extra))
    for t in design.terms:
        if t.n_levels < 2:
            raise DataError(f"the grouping factor '{t.group}' in '{t.term.source}' has only one level: a random "
                            "effect needs at least two groups")
    w = constant_rows(1.0, design.nobs)
    if wcol is not None:
        w = design.frame[wcol].to_numpy(float)
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise DataError("weights must be finite and non-negative")
    off = constant_rows(0.0, design.nobs) if design.offset is None else np.asarray(design.offset, float)
    if ocol is not None:
        off = off + design.frame[ocol].to_numpy(float)
        design = dataclasses.replace(design, offset=off)
    return GlmerDesign(design, glm_response(design, fam, w, off))


# --- optimisation ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GlmerOpt:
    """Where the optimisation ended: parameters, deviance, the Hessian, the PIRLS state and diagnostics.

    ``hessian`` and ``gradient`` are the finite-difference ones of the last Newton step (central,
    at most one step of relative size < 1e-4 before (θ, β)); None for nAGQ = 0.
    """

    theta: np.ndarray
    beta: np.ndarray
    fun: float
    state: PirlsState
    hessian: np.ndarray | None
    gradient: np.ndarray | None
    nfev: int
    message: str
    converged: bool = True
    messages: tuple[str, ...] = ()
    stage1_theta: np.ndarray | None = None


class _Counted:
    """Wraps an objective, counting evaluations; ``many`` evaluates several points (batched if possible)."""

    def __init__(self, fun, batch=None):
        self.fun, self.batch, self.n = fun, batch, 0

    def __call__(self, x):
        self.n += 1
        return float(self.fun(np.asarray(x, float)))

    def many(self, xs) -> np.ndarray:
        xs = np.asarray(xs, float)
        self.n += len(xs)
        return np.asarray(self.batch(xs) if self.batch is not None else [self.fun(x) for x in xs], float)


def _newton(fun, x, f0, lower, *, maxit=40, tol=1e-4, final_hessian=True, derivs=None,
            near_bounds_only=False):
    """Quasi-Newton with finite-difference Hessians, bounds and step halving.

    The first Hessian is a forward difference, then BFGS updates it from central gradients (2k
    evaluations instead of ~k²/2).  With ``final_hessian`` a central Hessian is computed once a step
    is below ``tol`` (relative), and the iteration stops after a step below ``tol`` taken with it;
    that Hessian (at most one small step from x) is returned for the standard errors.  Where the
    Hessian of the free parameters is not positive definite (away from the optimum, or along a flat
    direction of a boundary fit) its eigenvalues are replaced by their absolute values, floored at
    1e-3 of the largest.  Parameters on their lower bound whose gradient points outwards stay there.
    Returns (x, f, gradient, Hessian), or None when no step decreases the deviance, for BOBYQA to
    take over.  ``derivs`` supplies the derivatives (default: finite differences of ``fun``).
    ``near_bounds_only`` tries a bound only when it is less than four steps' lengths away (each
    try is a PIRLS run from far away: for large data, where an interior optimum is the rule).
    """
    derivs = derivs or ValueDifferences(fun)
    g, H = derivs.hessian(x, f0, central=False)
    exact = False
    for _ in range(maxit):
        free = ~(np.isfinite(lower) & (x <= lower) & (g >= 0))
        Hf, gf = H[np.ix_(free, free)], g[free]
        step = np.zeros_like(x)
        try:
            step[free] = -scipy.linalg.cho_solve((np.linalg.cholesky(Hf), True), gf)
        except np.linalg.LinAlgError:
            ev, V = np.linalg.eigh(Hf)
            ev = np.maximum(np.abs(ev), 1e-3 * np.abs(ev).max())
            step[free] = -V @ ((V.T @ gf) / ev)
        t = 1.0
        while True:
            xn = np.maximum(x + t * step, lower)
            fn = fun(xn)
            if fn <= f0 + 1e-10 * (1 + abs(f0)):
                break
            t *= 0.5
            if t < 1e-3:
                return None
        # A variance heading for 0 along a flat direction (curvature vanishing at a boundary fit)
        # makes Newton converge only linearly: try the bound itself.
        toward = np.isfinite(lower) & (step < 0) & (xn > lower)
        if near_bounds_only:       # only where the bound is within a few steps' lengths
            toward &= xn - lower < 4.0 * np.abs(xn - x)
        for j in np.flatnonzero(toward):
            xb = xn.copy()
            xb[j] = lower[j]
            fb = fun(xb)
            if fb <= fn:
                xn, fn = xb, fb
        last = np.max(np.abs(xn - x) / (1.0 + np.abs(x)))
        if last < tol and (exact or not final_hessian):
            return xn, fn, g, H
        fun(xn)                                        # PIRLS warm start at the new centre
        if last < tol:
            gn, Hn = derivs.hessian(xn, fn, central=True)
            exact = True
        else:
            gn = derivs.gradient(xn)
            s, y = xn - x, gn - g
            Hn = H
            if s @ y > 1e-12 * np.linalg.norm(s) * np.linalg.norm(y):
                Hs = H @ s
                Hn = H - np.outer(Hs, Hs) / (s @ Hs) + np.outer(y, y) / (s @ y)
            exact = False
        x, f0, g, H = xn, fn, gn, Hn
    return None


def optimize_glmer(devfun: GlmerDevFun, start=None) -> GlmerOpt:
    """Stage 1 (θ with β inside PIRLS, BOBYQA), then stage 2 (θ and β by Newton) as lme4's glmer.

    ``start``: a dict with ``theta`` and/or ``fixef`` (lme4's ``start=list(theta=, fixef=)``) or an
    array of θ.  With both given, stage 1 is skipped.  nAGQ = 0 stops after stage 1.
    """
    d = devfun.design
    k_theta = d.n_theta
    st_theta = st_beta = None
    if isinstance(start, dict):
        st_theta, st_beta = start.get("theta"), start.get("fixef")
    elif start is not None:
        st_theta = start
    theta0 = d.theta_start if st_theta is None else np.asarray(st_theta, float).ravel()
    if theta0.shape != (k_theta,):
        raise ParameterError(f"start theta has {theta0.size} values; this model has {k_theta}")
    tlow = d.theta_lower
    # stage 1 only gives stage 2 its start (BOBYQA stops at 1e-3 in the deviance): PIRLS to 1e-8, or
    # 1e-6 for large one-factor data, where each iteration is a pass over a million rows
    f1 = _Counted(functools.partial(devfun.stage1, tol=None if devfun.nAGQ == 0 else
                                    (1e-6 if devfun.fast is not None else 1e-8)))
    if st_beta is None or devfun.nAGQ == 0:
        # Large one-factor data: stage 2's Newton steps on analytic gradients finish from a rougher
        # start (θ to 0.03), and a deviance change of 0.1 is far below what matters at a million rows.
        tols = dict(ftol=0.1, xtol=3e-2) if devfun.has_gradient else {}
        theta1 = _stage1(f1, theta0, tlow, tight=devfun.nAGQ == 0, **tols)
        for alt in _flipped(d, theta1):
            cand = _stage1(f1, alt, tlow, tight=devfun.nAGQ == 0, **tols)
            if f1(cand) < f1(theta1) - 1e-8:
                theta1 = cand
        beta1 = devfun.pirls(theta1, sorted_rows=True).beta       # (β only: no row vectors)
    else:
        theta1, beta1 = np.maximum(theta0, tlow), np.asarray(st_beta, float).ravel()
        if beta1.shape != (d.p,):
            raise ParameterError(f"start fixef has {beta1.size} values; this model has {d.p}")
    if devfun.nAGQ == 0:
        state = devfun.pirls(theta1)
        return GlmerOpt(theta1, state.beta, devfun.laplace(state), state, None, None, f1.n,
                        "stage 1 only (nAGQ = 0)", True, (), theta1)
    f2 = _Counted(devfun, devfun.batch)
    lower = devfun.lower
    derivs = GradientDifferences(devfun.gradient, devfun, f2) if devfun.has_gradient else None
    res = _stage2(f2, np.concatenate([theta1, beta1]), lower, derivs)
    for alt in _flipped(d, res[0][:k_theta]):
        cand = _stage2(f2, np.concatenate([alt, res[0][k_theta:]]), lower, derivs)
        if cand[1] < res[1] - 1e-8:
            res = cand
    x, fval, g, H, how = res
    theta, beta = devfun.split(x)
    devfun._warm.pop("mode", None)                      # the gradient's copy of the last mode
    state = devfun.pirls(theta, beta)
    fval = devfun.laplace(state) if devfun.nAGQ <= 1 else devfun.agq(state)
    converged, messages = _check_convergence(g, H, x, lower)
    return GlmerOpt(theta, beta, fval, state, H, g, f1.n + f2.n, how, converged, tuple(messages), theta1)


def _stage1(f1, theta0, lower, tight: bool, ftol: float = 1e-3, xtol: float = 1e-2) -> np.ndarray:
    """Minimise the nAGQ = 0 objective over θ with BOBYQA (lme4's stage-1 optimiser): loosely when it
    only gives stage 2 its start, tightly when nAGQ = 0 is the fit itself."""
    tols = dict(xtol_abs=1e-8, ftol_abs=1e-10) if tight else dict(xtol_abs=xtol, ftol_abs=ftol)
    return bobyqa(f1, theta0, lower, **tols, maxeval=20_000)[0]


def _stage2(f2, x, lower, derivs=None):
    """Newton from x; BOBYQA when a Newton step fails.  Returns (x, f, gradient, Hessian, method)."""
    f0 = f2(x)
    res = _newton(f2, x, f0, lower, derivs=derivs, near_bounds_only=derivs is not None)
    if res is not None:
        return (*res, "Newton on the finite-difference Hessian" if derivs is None else
                "Newton on the analytic gradient's finite-difference Hessian")
    x = bobyqa(f2, x, lower, xtol_abs=1e-10, ftol_abs=1e-12, maxeval=20_000)[0]
    f0 = f2(x)
    res = _newton(f2, x, f0, lower, maxit=3)
    if res is None:
        g, H = fd_hessian(f2, x, f0)
        res = (x, f0, g, H)
    return (*res, "BOBYQA")


def _flipped(design: Design, theta: np.ndarray) -> list[np.ndarray]:
    """Equivalent θ for each column of a Λ block whose diagonal is 0 but whose entries below it are not.

    Negating a whole column of Λ leaves ΛΛ' unchanged; with the diagonal at its bound 0 the negated
    column is again a valid θ, but on the other side of a barrier a local optimiser cannot cross
    (moving the diagonal off 0 lowers the deviance for one sign of the column and raises it for the
    other).  Restarting from the mirror image escapes such spurious boundary optima.
    """
    out = []
    for t in design.terms:
        rows, cols = t.tri_indices
        for c in range(t.q):
            diag = t.theta_offset + np.flatnonzero((rows == c) & (cols == c))[0]
            below = t.theta_offset + np.flatnonzero((rows > c) & (cols == c))
            if theta[diag] < 1e-6 and below.size and np.any(np.abs(theta[below]) > 1e-6):
                alt = np.array(theta, float)
                alt[below] = -alt[below]
                out.append(alt)
    return out


def _check_convergence(g, H, x, lower, tol=2e-3):
    """lme4's ``checkConv`` (:func:`mlmkit.optimize.check_conv`): (converged, messages)."""
    messages = check_conv(g, H, free_parameters(x, lower), tol)
    return not messages, messages


# --- the model ------------------------------------------------------------------------------------
def glmer(formula: str, data: pd.DataFrame, family="binomial", nAGQ: int = 1, weights=None, offset=None,
          start=None, *, warn: bool = True) -> "GlmerResult":
    """Fit a generalized linear mixed model with lme4's formula syntax (R's ``lme4::glmer``).

    Parameters
    ----------
    formula : str
        e.g. ``"cbind(m, n - m) ~ 1 + (1 | batch)"`` or ``"white ~ homework + (1 + homework | schid)"``.
    data : pandas.DataFrame
        Not modified.  Rows with missing values in the formula's columns (or weights/offset) are dropped.
    family : str or Family
        ``"binomial"`` (logit link) or ``"poisson"`` (log link), or ``mlmkit.families.binomial("probit")``.
    nAGQ : int
        1: Laplace approximation; > 1: adaptive Gauss-Hermite quadrature with nAGQ points (one scalar
        random-effect term only); 0: lme4's fast nAGQ = 0 fit (β estimated inside PIRLS).
    weights, offset : array-like or column name, optional
        Prior weights (binomial: number of trials for proportion responses) and an offset added to η.
    start : dict or array, optional
        Starting values: ``{"theta": ..., "fixef": ...}``.

    Binomial responses: 0/1 numbers, booleans, a two-level categorical (second level = success),
    ``cbind(successes, failures)`` or proportions with ``weights``.  The equivalent R call is
    ``glmer(cbind(m, n - m) ~ 1 + (1 | batch), data = rats, family = binomial)``.

    Raises
    ------
    FamilyError
        Unknown family or link.
    DataError
        Responses the family cannot take, bad weights or offset.
    ConvergenceError
        PIRLS failed (the message says what to try).
    """
    try:
        nagq = int(nAGQ)
    except (TypeError, ValueError):
        raise ParameterError(f"nAGQ must be a whole number, not {nAGQ!r}") from None
    if nagq != nAGQ or nagq < 0 or nagq > 100:
        raise ParameterError(f"nAGQ must be a whole number from 0 to 100, not {nAGQ!r}")
    gd = glmer_design(formula, data, family, weights=weights, offset=offset)
    d = gd.design
    if nagq > 1 and (len(d.terms) != 1 or d.terms[0].q != 1):
        raise ParameterError(f"nAGQ > 1 (adaptive Gauss-Hermite quadrature) needs a single scalar random-effect "
                             f"term such as (1 | group); '{formula}' has "
                             f"{', '.join(t.term.source for t in d.terms)}. Use nAGQ=1 (Laplace).")
    devfun = GlmerDevFun(d, gd.response, nAGQ=nagq)
    with blas_threads(d.structure):
        opt = optimize_glmer(devfun, start=start)
    return mk_glmer_mod(devfun, opt, warn=warn)


def mk_glmer_mod(devfun: GlmerDevFun, opt: GlmerOpt, *, warn: bool = True) -> "GlmerResult":
    """The immutable result; warns like lme4 on a singular or unconverged fit."""
    m = GlmerResult(design=devfun.design, devfun=devfun, opt=opt)
    if warn:
        warn_about_fit(m, opt.messages)
    return m


@dataclass(frozen=True, eq=False)
class GlmerResult(MixedModelResult):
    """A fitted generalized linear mixed model (immutable; properties are computed on first use).

    Besides the shared names (``fixef``, ``vcov``, ``varcorr``, ``ranef``, ``coef``, ``predict``...):
    ``family``, ``nAGQ``, ``loglik`` (−deviance/2 at the optimum), ``deviance`` (R's ``deviance()``:
    Σ squared deviance residuals; the summary's "deviance" column is −2 logLik), ``df_resid``, and for
    simulation ``y`` (proportions for the binomial), ``prior_weights``, ``trials``, ``offset``.
    """

    devfun: GlmerDevFun
    opt: GlmerOpt

    REML = False
    reml_criterion = None
    sigma = 1.0

    @property
    def family(self) -> Family:
        return self.devfun.response.family

    @property
    def nAGQ(self) -> int:
        return self.devfun.nAGQ

    @property
    def response(self) -> GlmResponse:
        return self.devfun.response

    @property
    def y(self) -> np.ndarray:
        return self.response.y

    @property
    def prior_weights(self) -> np.ndarray:
        return self.response.weights

    @property
    def trials(self) -> np.ndarray:
        return self.response.trials

    @property
    def offset(self) -> np.ndarray:
        return self.response.offset

    @property
    def messages(self) -> tuple[str, ...]:
        return self.opt.messages

    @frozen_cached
    def theta(self) -> np.ndarray:
        return np.asarray(self.opt.theta, float).copy()

    @frozen_cached
    def _beta(self) -> np.ndarray:
        return np.asarray(self.opt.beta, float).copy()

    @frozen_cached
    def _b(self):
        st = self.opt.state
        lam1, lam2 = self.devfun.pls.lambdas(self.theta)
        return st.u1 @ lam1.T, (None if st.u2 is None else self.devfun.pls.lam2_times(lam2, st.u2))

    @frozen_cached
    def _eta(self) -> np.ndarray:
        return self.opt.state.eta.copy()

    def _linkinv(self, eta):
        return self.family.linkinv(eta)

    def _covariance_blocks(self) -> list[np.ndarray]:
        return [lam @ lam.T for lam in (t.lambda_block(self.theta) for t in self.design.terms)]

    @property
    def _residual_sd(self):
        return None

    def _latent_residual_variance(self) -> float:
        link = self.family.link.name
        if self.family.name == "binomial" and link == "logit":
            return float(np.pi ** 2 / 3)
        if self.family.name == "binomial" and link == "probit":
            return 1.0
        raise ParameterError(f"the latent-scale ICC is defined for binomial logit (π²/3) and probit (1) models, "
                             f"not {self.family}")

    @property
    def loglik(self) -> float:
        """lme4's ``logLik``: −(Laplace or AGQ deviance)/2 at the optimum."""
        return -0.5 * float(self.opt.fun)

    @property
    def npar(self) -> int:
        return self.design.p + self.design.n_theta

    @property
    def df_resid(self) -> int:
        return self.nobs - self.npar

    @frozen_cached
    def deviance(self) -> float:
        """R's ``deviance()`` for glmer: the sum of squared deviance residuals (conditional on û)."""
        return float(self.opt.state.devres.sum())

    @frozen_cached
    def vcov(self) -> pd.DataFrame:
        """Var(β̂) = 2 [H⁻¹]_ββ from the Hessian of the deviance over (θ, β), as lme4.

        Falls back (with a warning, as lme4) on (R_X'R_X)⁻¹ from the final PIRLS step when the
        Hessian is unavailable (nAGQ = 0) or not positive definite.
        """
        names = list(self.design.fixef_names)
        k = self.design.n_theta
        V = None
        H = self.opt.hessian
        if H is not None:
            try:
                Hi = np.linalg.inv(H)[k:, k:]
                V = Hi + Hi.T
                if V.size and np.min(np.linalg.eigvalsh(V)) <= 0:
                    V = None
            except np.linalg.LinAlgError:
                V = None
            if V is None:
                warnings.warn("variance-covariance matrix computed from finite-difference Hessian is not positive "
                              "definite: falling back to var-cov estimated from RX", ConvergenceWarning, stacklevel=2)
        if V is None:
            V = self._vcov_rx()
        return pd.DataFrame(V, index=names, columns=names)

    def _vcov_rx(self) -> np.ndarray:
        st, f, resp = self.opt.state, self.family, self.response
        mu_eta = f.mu_eta(st.eta)
        w = resp.weights * mu_eta ** 2 / f.variance(st.mu)
        zr = st.eta - resp.offset + (resp.y - st.mu) / mu_eta
        sol = self.devfun.pls.solve(self.theta, self.devfun.pls.lambdas(self.theta), w, zr, self.design.X)
        Rinv = np.linalg.inv(sol.RX)
        return Rinv.T @ Rinv

    def residuals(self, type: str = "deviance", scaled: bool = False) -> np.ndarray:
        """Residuals as lme4's ``residuals(m, type)`` (default ``"deviance"``).

        deviance: sign(y − μ)·√dᵢ; pearson: (y − μ)·√(wtᵢ / V(μᵢ)); response: y − μ;
        working: (y − μ) / (dμ/dη).  ``scaled`` divides by σ, which is 1 for binomial and Poisson.
        """
        st, f, resp = self.opt.state, self.family, self.response
        r = resp.y - st.mu
        if type == "deviance":
            return np.sign(r) * np.sqrt(np.maximum(resp.dev_resids(st.mu), 0.0))
        if type == "pearson":
            return r * np.sqrt(resp.weights / f.variance(st.mu))
        if type == "response":
            return r
        if type == "working":
            return r / f.mu_eta(st.eta)
        raise ParameterError(f"unknown residual type {type!r}: use 'deviance', 'pearson', 'response' or 'working'")

    def refit(self, y) -> "GlmerResult":
        """Fit the same model to a new response (same design, weights, offset), starting at (θ̂, β̂).

        ``y``: for a binomial ``cbind`` model an (n, 2) array of successes and failures or a vector of
        proportions (same trials); otherwise a vector like the original response (0/1, counts).
        """
        resp = self.response
        arr = np.asarray(y, dtype=float)
        n = self.nobs
        if arr.ndim == 2 and arr.shape == (n, 2):
            if self.family.name != "binomial":
                raise DataError("a two-column response is for binomial models")
            trials = arr.sum(axis=1)
            yy = np.divide(arr[:, 0], trials, out=np.zeros(n), where=trials > 0)
            user_w = np.divide(resp.weights, resp.trials, out=np.ones(n), where=resp.trials > 0)
            new = GlmResponse(resp.family, yy, user_w * trials, trials, resp.offset)
        elif arr.shape == (n,):
            new = GlmResponse(resp.family, arr, resp.weights, resp.trials, resp.offset)
        else:
            raise DataError(f"refit needs a response of length {n} (or {n} × 2 successes/failures), got shape {arr.shape}")
        if not np.all(np.isfinite(new.y)) or (new.y < 0).any() or (self.family.name == "binomial" and (new.y > 1).any()):
            raise DataError(f"refit: response values outside the {self.family.name} family's range")
        devfun = GlmerDevFun(self.design, new, nAGQ=self.nAGQ)
        with blas_threads(self.design.structure):
            opt = optimize_glmer(devfun, start={"theta": self.theta, "fixef": self._beta})
        return mk_glmer_mod(devfun, opt, warn=False)

    def refit_ml(self) -> "GlmerResult":
        """glmer fits are maximum likelihood already (for ``anova``)."""
        return self

    def summary(self):
        from .display import summarize
        return summarize(self)
