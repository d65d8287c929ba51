"""The lmer engine: lme4's ``mkLmerDevfun`` and ``optimizeLmer``.

    f   = mk_lmer_devfun(d, REML=True)   # the profiled deviance / REML criterion as a function of θ
    opt = optimize_lmer(f)               # bounded minimisation over θ, then lme4's convergence check

The criterion is lme4's profiled deviance or REML criterion (Bates et al. 2015, eqs. 34 and 41),
written once in :func:`mlmkit.engine.linalg.profiled_criterion`.  The fitted model (:class:`mlmkit.lmm.LmerResult`) is assembled in :mod:`mlmkit.lmm`; nothing here
knows about results, inference or display.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.optimize

from .crossed import single_term_start
from ..spec.design import Design
from ..errors import ParameterError
from .gradient import profiled_gradient
from .linalg import PLSFactor, PLSSystem, profiled_criterion
from .optimize import bobyqa, check_convergence
from ..spec.rescale import criterion_from_rescaled, rescaled, term_maps, theta_from_rescaled

__all__ = ["DevFun", "OptResult", "mk_lmer_devfun", "optimize_lmer", "optimize_rescaled"]


@dataclass(frozen=True, eq=False)
class DevFun:
    """The objective of an lmer fit as a function of θ (lme4's ``mkLmerDevfun``).

    Calling it returns the REML criterion (``REML=True``) or the ML deviance at θ, with β and σ
    profiled out.  :meth:`factor` gives the full factorisation for the other quantities.
    """

    design: Design
    REML: bool
    system: PLSSystem

    @property
    def lower(self) -> np.ndarray:
        return self.design.theta_lower

    def factor(self, theta) -> PLSFactor:
        return self.system.factor(np.asarray(theta, float))

    def criterion(self, f: PLSFactor) -> float:
        return self._criterion(f.ldL2, f.ldRX2, f.r2)

    def _criterion(self, ldL2: float, ldRX2: float, r2: float) -> float:
        return profiled_criterion(ldL2, ldRX2, r2, self._dof, self.REML)

    @cached_property
    def _dof(self) -> int:
        """n − p for REML, n for ML: the count in the profiled σ² = r²/dof."""
        return self.design.nobs - (self.design.p if self.REML else 0)

    def __call__(self, theta) -> float:
        return self._criterion(*self.system.profiled_parts(theta))

    def many(self, thetas) -> np.ndarray:
        """The criterion at each row of ``thetas`` (K, n_θ); one vectorised pass for one grouping factor.

        The finite-difference convergence check and profiles evaluate many nearby θ at once.
        """
        ldL2, ldRX2, r2 = self.system.profiled_parts_many(np.atleast_2d(np.asarray(thetas, float)))
        return profiled_criterion(ldL2, ldRX2, r2, self._dof, self.REML)

    @cached_property
    def has_gradient(self) -> bool:
        """True when :mod:`mlmkit.engine.gradient` has a closed form for this model's structure."""
        s = self.design.structure
        return not s.q2 or self.system.crossed is not None

    def gradient(self, theta) -> np.ndarray:
        return profiled_gradient(self.factor(theta), self.REML)

    def value_and_gradient(self, theta) -> tuple[float, np.ndarray]:
        f = self.factor(theta)
        return self.criterion(f), profiled_gradient(f, self.REML)


def mk_lmer_devfun(design: Design, REML: bool = True) -> DevFun:
    """Precompute the cross-products of Z, X and y and return the deviance function of θ."""
    y = design.y if design.offset is None else design.y - design.offset
    return DevFun(design, bool(REML), PLSSystem(design.structure, design.X, y, crossed=True))


@dataclass(frozen=True)
class OptResult:
    """What the optimiser returns: θ̂, the criterion there, evaluations and diagnostics."""

    theta: np.ndarray
    fun: float
    nfev: int
    message: str
    gradient: np.ndarray | None = None
    converged: bool = True
    messages: tuple[str, ...] = ()
    optimizer: str = "bobyqa"


def _lbfgsb(devfun, x0, lower, maxiter=1000):
    """L-BFGS-B on the criterion: (θ̂, criterion at θ̂, evaluations, message)."""
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    fun = devfun.value_and_gradient if devfun.has_gradient else devfun
    # ftol: stop once an iteration lowers the criterion by less than 1e-13 of itself.  Its rounding
    # noise between nearby θ is ~4e-15 of itself (InstEval: ±5e-10 on 237,734); at 1e-14 a line search
    # near the optimum can mistake that noise for an increase and spend 19 more evaluations on it.
    res = scipy.optimize.minimize(fun, x0, method="L-BFGS-B", jac=True if devfun.has_gradient else "3-point",
                                  bounds=bounds, options={"ftol": 1e-13, "gtol": 1e-8, "maxiter": maxiter})
    return np.asarray(res.x), float(res.fun), int(res.nfev), str(res.message)


_LARGE_BLOCK = 500     # crossed/nested random effects beyond block 1 from which "auto" uses the gradient


def optimize_lmer(devfun: DevFun, start=None, *, optimizer: str = "auto", check: bool = True,
                  boundary_tol: float = 1e-5) -> OptResult:
    """Minimise the criterion over θ within its bounds (Λ's diagonal ≥ 0), as lme4's ``optimizeLmer``.

    ``optimizer="bobyqa"`` is lme4's default, NLopt's BOBYQA (xtol_abs = ftol_abs = 1e-8): from the
    same start it stops where lme4 stops, so the printed digits agree even where the likelihood is
    flat.  ``"L-BFGS-B"`` uses the analytic gradient (:mod:`mlmkit.engine.gradient`) and converges to the
    exact optimum in far fewer evaluations; for all-scalar crossed/nested models it starts, unless
    ``start`` is given, from each θ_k estimated with its term alone (:func:`mlmkit.engine.crossed.single_term_start`).
    ``"auto"`` (default) takes BOBYQA, except for crossed or nested models with 500 or more random
    effects outside the largest factor (InstEval-sized), where one evaluation costs a dense Cholesky
    factorisation and the gradient method needs 10× fewer evaluations.
    Components within ``boundary_tol`` of their bound are moved onto it when that is no worse (lme4's
    boundary check), then lme4's convergence check runs (``check=False`` skips it, e.g. in bootstraps).
    """
    lower = devfun.lower
    x0 = devfun.design.theta_start if start is None else np.maximum(np.asarray(start, float), lower)
    if optimizer.lower() == "auto":
        optimizer = "L-BFGS-B" if devfun.design.structure.q2 >= _LARGE_BLOCK and devfun.has_gradient else "bobyqa"
    optimizer = optimizer.lower()
    fx = None
    if optimizer == "bobyqa":
        x, nfev, message = bobyqa(devfun, x0, lower)
    elif optimizer in ("l-bfgs-b", "lbfgsb"):
        if start is None and devfun.system.crossed is not None:
            # The exact optimum does not depend on the start; single-term estimates halve the work.
            x0 = np.maximum(single_term_start(devfun.system, devfun._criterion), lower)
        x, fx, nfev, message = _lbfgsb(devfun, x0, lower)
    else:
        raise ParameterError(f"unknown optimizer '{optimizer}': use 'bobyqa' (lme4's default) or 'L-BFGS-B'")
    if fx is None or np.any(x < lower):
        x = np.maximum(x, lower)
        fx = devfun(x)
    near = np.flatnonzero(np.isfinite(lower) & (x - lower < boundary_tol) & (x > lower))
    if near.size:
        z = x.copy()
        z[near] = lower[near]
        fz = devfun(z)
        if fz <= fx:
            x, fx = z, fz
    gradient, messages = check_convergence(devfun, x, lower, f0=fx) if check else (None, [])
    return OptResult(theta=x, fun=float(fx), nfev=nfev, message=message, gradient=gradient,
                     converged=not messages, messages=tuple(messages),
                     optimizer="nloptwrap" if optimizer == "bobyqa" else "L-BFGS-B")


def optimize_rescaled(devfun: DevFun, start=None, optimizer: str = "auto") -> OptResult:
    """optimize_lmer, through centred/scaled random-slope columns when they are badly conditioned."""
    design, REML = devfun.design, devfun.REML
    maps = term_maps(design) if start is None else None
    if maps is None:
        return optimize_lmer(devfun, start=start, optimizer=optimizer)
    # Optimise (and check convergence of) the same model on centred/scaled columns, where the
    # criterion is well conditioned, and map θ back (mlmkit.spec.rescale).
    inner = optimize_lmer(mk_lmer_devfun(rescaled(design, maps), REML=REML), optimizer=optimizer)
    theta = theta_from_rescaled(design, maps, inner.theta)
    return dataclasses.replace(inner, theta=theta, fun=criterion_from_rescaled(maps, inner.fun, REML),
                               gradient=None)


