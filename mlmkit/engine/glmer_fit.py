"""The glmer engine: lme4's two-stage optimisation of the Laplace / AGQ deviance (``optimizeGlmer``).

    d   = glmer_design(formula, data, family, weights, offset)   # lFormula + the family's response
    f   = GlmerDevFun(d.design, d.response, nAGQ)                # deviance of (θ, β); see mlmkit.engine.pirls
    opt = optimize_glmer(f)                                      # stage 1 (θ), stage 2 (θ, β), Hessian
    m   = mk_glmer_mod(f, opt)                                   # GlmerResult (mlmkit.glmm)

The two stages follow lme4: stage 1 minimises the nAGQ = 0 objective over θ with β found inside
PIRLS (BOBYQA, as lme4); stage 2 minimises the Laplace (or AGQ) deviance over (θ, β) jointly from
there.  Stage 2 is a quasi-Newton method on finite-difference Hessians (where lme4 runs Nelder-Mead
and computes the Hessian afterwards): it ends with a central-difference Hessian H at the optimum,
lme4's ``deriv12`` step 1e-4, from which the standard errors follow as in lme4's ``vcov``:

    Var(β̂) = 2 · [H⁻¹]_ββ          (H of the deviance −2 log L over (θ, β))

Holding θ fixed instead (the curvature in β alone) understates them (rats: 0.1097 against 0.1211).
When a Newton step fails (no decrease), NLopt's BOBYQA takes over.

With one grouping factor and 20,000 rows or more (binomial or Poisson, canonical link), the
deviance has an analytic gradient (:meth:`mlmkit.engine.onefactor.OneFactorPLS.gradient`): the Newton
steps then use it, and H comes from central differences of gradients (same step 1e-4, 2k
PIRLS runs instead of k(k + 1)); stage 1 stops earlier there (θ to 0.03, the deviance to 0.1).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..spec.design import Design
from ..errors import ParameterError
from .optimize import GradientDifferences, ValueDifferences, bobyqa, check_convergence, fd_hessian
from .pirls import GlmerDevFun, PirlsState

__all__ = ["GlmerOpt", "optimize_glmer"]


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
    _, messages = check_convergence(devfun, x, lower, derivatives=(g, H))
    return GlmerOpt(theta, beta, fval, state, H, g, f1.n + f2.n, how, not messages, tuple(messages), theta1)


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
