"""Optimisers and finite differences shared by lmer, glmer and their checks.

lme4 minimises with NLopt's BOBYQA (``nloptwrap``: xtol_abs = ftol_abs = 1e-8) and checks convergence
with central finite differences of step 1e-4 (``deriv12``).  Both live here once, used by
:mod:`mlmkit.engine.lmer_fit` and :mod:`mlmkit.engine.glmer_fit`; so does lme4's convergence check
(:func:`check_convergence`), the one both use.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ConvergenceError

__all__ = ["bobyqa", "fd_gradient", "fd_hessian", "ValueDifferences", "GradientDifferences", "check_convergence",
           "check_conv"]


def bobyqa(fun, x0, lower, upper=None, *, xtol_abs: float = 1e-8, ftol_abs: float = 1e-8,
           maxeval: int = 100_000) -> tuple[np.ndarray, int, str]:
    """Minimise ``fun`` within bounds with NLopt's BOBYQA, with lme4's ``nloptwrap`` settings by default.

    From the same start with the same tolerances it stops where lme4 stops, so printed digits agree
    even where the criterion is flat near its minimum.  A point where ``fun`` raises
    :class:`~mlmkit.errors.ConvergenceError` (a PIRLS failure, say) or returns a non-finite value is
    treated as very bad rather than ending the search.  Returns ``(x, evaluations, message)``.
    """
    import nlopt

    def f(x, grad):
        try:
            # a copy: x is a view of NLopt's own buffer, freed after the run (a warm start that kept
            # the view would later read whatever reuses that memory)
            val = float(fun(np.array(x, float)))
        except ConvergenceError:
            return 1e300
        return val if math.isfinite(val) else 1e300

    lower = np.asarray(lower, float)
    x0 = np.maximum(np.asarray(x0, float), lower)
    opt = nlopt.opt(nlopt.LN_BOBYQA, len(x0))
    opt.set_lower_bounds([float(v) if np.isfinite(v) else -np.inf for v in lower])
    if upper is not None:
        opt.set_upper_bounds([float(v) if np.isfinite(v) else np.inf for v in upper])
    opt.set_xtol_abs(xtol_abs)
    opt.set_ftol_abs(ftol_abs)
    opt.set_maxeval(maxeval)
    opt.set_min_objective(f)
    try:
        x = np.asarray(opt.optimize([float(v) for v in x0]))
        message = {nlopt.FTOL_REACHED: "ftol_abs reached", nlopt.XTOL_REACHED: "xtol_abs reached",
                   nlopt.MAXEVAL_REACHED: "maxeval reached"}.get(opt.last_optimize_result(), "success")
    except nlopt.RoundoffLimited:
        x, message = np.asarray(opt.last_optimum_x() if hasattr(opt, "last_optimum_x") else x0), "roundoff limited"
    return np.maximum(x, lower), opt.get_numevals(), message


def _many(fun, xs) -> np.ndarray:
    """``fun`` at each row of ``xs``: in one batch when the objective offers ``many``."""
    return fun.many(xs) if hasattr(fun, "many") else np.array([fun(x) for x in xs], float)


def fd_gradient(fun, x: np.ndarray, delta: float = 1e-4) -> np.ndarray:
    """Central finite-difference gradient (f(x+δeᵢ) − f(x−δeᵢ)) / 2δ."""
    E = np.eye(len(x)) * delta
    f = _many(fun, np.vstack([x + E, x - E]))
    return (f[:len(x)] - f[len(x):]) / (2 * delta)


def fd_hessian(fun, x: np.ndarray, f0: float, delta: float = 1e-4, central: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """Finite-difference gradient and Hessian with step ``delta`` (the step of lme4's ``deriv12``).

    Gradient and diagonal are central: gᵢ = (f(x+δeᵢ) − f(x−δeᵢ))/2δ, Hᵢᵢ = (f(x+δeᵢ) − 2f(x) + f(x−δeᵢ))/δ².
    Off-diagonal, ``central=True`` uses the pair x ± δ(eᵢ+eⱼ),
    Hᵢⱼ = [(f(x+δ(eᵢ+eⱼ)) + f(x−δ(eᵢ+eⱼ)) − 2f(x))/δ² − Hᵢᵢ − Hⱼⱼ]/2 (O(δ²), k(k+1) evaluations in all);
    ``central=False`` the forward difference (f(x+δeᵢ+δeⱼ) − f(x+δeᵢ) − f(x+δeⱼ) + f(x))/δ² (O(δ),
    k(k+3)/2 evaluations; rats' intercept SE comes out 0.12105 instead of 0.12107).  θ components on
    their bound are differenced symmetrically too: the deviance is even in a diagonal element of Λ
    whose column below the diagonal vanishes, which is the case at a boundary fit.
    """
    k = len(x)
    E = np.eye(k) * delta
    ii, jj = np.tril_indices(k, -1)
    pts = [x + E, x - E, x + E[ii] + E[jj]]
    if central:
        pts.append(x - E[ii] - E[jj])
    f = _many(fun, np.vstack(pts))
    fp, fm, fpp = f[:k], f[k:2 * k], f[2 * k:2 * k + len(ii)]
    g = (fp - fm) / (2 * delta)
    H = np.diag((fp - 2 * f0 + fm) / delta ** 2)
    if central:
        fmm = f[2 * k + len(ii):]
        off = 0.5 * ((fpp + fmm - 2 * f0) / delta ** 2 - H[ii, ii] - H[jj, jj])
    else:
        off = (fpp - fp[ii] - fp[jj] + f0) / delta ** 2
    H[ii, jj] = H[jj, ii] = off
    return g, H


class ValueDifferences:
    """Gradient and Hessian of an objective by finite differences of its values (lme4's deriv12)."""

    def __init__(self, fun):
        self.fun = fun

    def hessian(self, x, f0, central):
        return fd_hessian(self.fun, x, f0, central=central)

    def gradient(self, x):
        return fd_gradient(self.fun, x)


class GradientDifferences:
    """An analytic gradient, and the Hessian by differences of gradients: central
    Hᵢ = (g(x + δeᵢ) − g(x − δeᵢ))/2δ with lme4's δ = 1e-4 (forward when ``central`` is false),
    symmetrised: 2k gradients instead of the k(k + 1) values of :func:`fd_hessian`.  ``fun`` is
    evaluated at x afterwards (a PIRLS objective then starts from x's mode again); ``counter.n``
    counts the gradients."""

    def __init__(self, grad, fun, counter, delta=1e-4):
        self.grad, self.fun, self.counter, self.delta = grad, fun, counter, delta

    def gradient(self, x):
        self.counter.n += 1
        return self.grad(x)

    def hessian(self, x, f0, central):
        g = self.gradient(x)
        E = np.eye(len(x)) * self.delta
        if central:
            J = np.array([self.gradient(x + e) - self.gradient(x - e) for e in E]) / (2 * self.delta)
        else:
            J = np.array([self.gradient(x + e) - g for e in E]) / self.delta
        self.fun(x)
        return g, 0.5 * (J + J.T)


#: lme4's ``isSingular`` tolerance: a diagonal element of Λ below this is a variance of 0 (or a
#: correlation of ±1); the same cutoff marks θ components "on their bound" in the convergence check.
SINGULAR_TOL = 1e-4


def free_parameters(x: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Mask of parameters not on their lower bound (a bounded parameter's gradient need not vanish)."""
    return ~(np.isfinite(lower) & (x - lower < SINGULAR_TOL))


def check_conv(g: np.ndarray, H: np.ndarray, free: np.ndarray, tol: float = 2e-3) -> list[str]:
    """lme4's ``checkConv`` on the free parameters: the warning messages (empty when converged).

    With the Cholesky factor H = R'R of the finite-difference Hessian, the scaled gradient is
    lme4's ``solve(chol(H), g)`` is s = R⁻¹g; the fit has converged when
    max_i min(|s_i|, |g_i|) ≤ ``tol`` (2e-3 in lme4's ``check.conv.grad``).  A Hessian that is not
    positive definite gets lme4's "nearly unidentifiable" message and the unscaled gradient is used.
    """
    if not free.any():
        return []
    g, H = g[free], H[np.ix_(free, free)]
    messages = []
    try:
        R = np.linalg.cholesky(H).T
        scaled = np.abs(np.linalg.solve(R, g))
    except np.linalg.LinAlgError:
        messages.append("Model is nearly unidentifiable: the Hessian of the criterion is not positive definite - Rescale variables?")
        scaled = np.abs(g)
    worst = float(np.max(np.minimum(scaled, np.abs(g))))
    if worst > tol:
        messages.append(f"Model failed to converge with max|grad| = {worst:.4g} (tol = {tol})")
    return messages


def check_convergence(fun, x: np.ndarray, lower: np.ndarray, tol: float = 2e-3, *, f0: float | None = None,
                      derivatives: tuple[np.ndarray, np.ndarray] | None = None
                      ) -> tuple[np.ndarray | None, list[str]]:
    """lme4's ``checkConv`` after a fit of lmer or glmer: (gradient, warning messages).

    ``derivatives`` = (g, H) where the optimiser ends with them (glmer's last Newton step); otherwise
    (lmer) the gradient and a forward-difference Hessian of ``fun`` at x (lme4's ``deriv12``, ``f0``
    the value at x when the caller has it).  Parameters on their bound are left out (their gradient
    need not vanish); the test itself is :func:`check_conv`, the scaled gradient through the
    Cholesky factor of H.  The gradient is None when no parameter is free and none was given.
    """
    free = free_parameters(x, lower)
    if derivatives is None:
        if not free.any():
            return None, []
        derivatives = fd_hessian(fun, x, fun(x) if f0 is None else f0, central=False)
    g, H = derivatives
    return g, check_conv(g, H, free, tol)
