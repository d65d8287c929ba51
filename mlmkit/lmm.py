"""Linear mixed models: lme4's ``lmer`` as four public steps.

    d   = lformula(formula, data)        # design.py: parse, build X, Z blocks, θ template
    f   = mk_lmer_devfun(d, REML=True)   # the profiled deviance / REML criterion as a function of θ
    opt = optimize_lmer(f)               # bounded minimisation over θ
    m   = mk_mer_mod(f, opt)             # the immutable result, LmerResult

The criterion (Bates et al. 2015, eqs. 34 and 41), with r²(θ) the penalised residual sum of squares,
n observations and p fixed effects:

    ML:    d(θ)  = log|L_θ|² + n [1 + log(2π r²(θ) / n)]
    REML:  d_R(θ) = log|L_θ|² + log|R_X|² + (n − p) [1 + log(2π r²(θ) / (n − p))]
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.optimize

from .design import Design, lformula
from .errors import ConvergenceWarning, SingularFitWarning
from .linalg import PLSFactor, PLSSystem
from .results import MixedModelResult

__all__ = ["DevFun", "OptResult", "mk_lmer_devfun", "optimize_lmer", "mk_mer_mod", "lmer", "LmerResult"]

_LOG2PI = np.log(2.0 * np.pi)


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
        n, p = self.design.nobs, self.design.p
        if f.r2 <= 0:
            return np.inf
        if self.REML:
            return f.ldL2 + f.ldRX2 + (n - p) * (1.0 + _LOG2PI + np.log(f.r2 / (n - p)))
        return f.ldL2 + n * (1.0 + _LOG2PI + np.log(f.r2 / n))

    def __call__(self, theta) -> float:
        return self.criterion(self.factor(theta))


def mk_lmer_devfun(design: Design, REML: bool = True) -> DevFun:
    """Precompute the cross-products of Z, X and y and return the deviance function of θ."""
    y = design.y if design.offset is None else design.y - design.offset
    return DevFun(design, bool(REML), PLSSystem(design.structure, design.X, y))


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


def _fd_gradient_hessian(f, x, lower, h=1e-4):
    """Central finite-difference gradient and Hessian (one-sided at an active lower bound)."""
    k = len(x)
    f0 = f(x)
    g = np.zeros(k)
    H = np.zeros((k, k))
    steps = h * np.maximum(1.0, np.abs(x))
    at_bound = x - steps < lower
    for i in range(k):
        e = np.zeros(k)
        e[i] = steps[i]
        if at_bound[i]:
            f1, f2 = f(x + e), f(x + 2 * e)
            g[i] = (-3 * f0 + 4 * f1 - f2) / (2 * steps[i])
            H[i, i] = (f0 - 2 * f1 + f2) / steps[i] ** 2
        else:
            fp, fm = f(x + e), f(x - e)
            g[i] = (fp - fm) / (2 * steps[i])
            H[i, i] = (fp - 2 * f0 + fm) / steps[i] ** 2
    for i in range(k):
        for j in range(i):
            ei = np.zeros(k); ei[i] = steps[i]
            ej = np.zeros(k); ej[j] = steps[j]
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei) - f(x + ej) + f0) / (steps[i] * steps[j])
    return g, H


def optimize_lmer(devfun: DevFun, start=None, *, check: bool = True, tol: float = 1e-10,
                  maxiter: int = 2000) -> OptResult:
    """Minimise the criterion over θ within its bounds (Λ's diagonal ≥ 0).

    Bounded quasi-Newton (L-BFGS-B) from lme4's start (1 on Λ's diagonal), then a derivative-free
    polish (bounded Powell) so that boundary optima are reached exactly.  lme4's convergence check
    follows: the gradient scaled by the Hessian (parameters off the boundary) must be below 2e-3.
    """
    lower = devfun.lower
    x0 = devfun.design.theta_start if start is None else np.maximum(np.asarray(start, float), lower)
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    nfev = 0

    def f(x):
        nonlocal nfev
        nfev += 1
        return devfun(x)

    res = scipy.optimize.minimize(f, x0, method="L-BFGS-B", bounds=bounds, jac="3-point",
                                  options={"ftol": 1e-15, "gtol": tol, "maxiter": maxiter, "maxls": 50})
    x = np.maximum(res.x, lower)
    # Snap near-boundary components to the boundary when that is no worse (lme4's BOBYQA lands there).
    fx = f(x)
    for i in np.flatnonzero(np.isfinite(lower) & (x - lower < 1e-4)):
        z = x.copy(); z[i] = lower[i]
        fz = f(z)
        if fz <= fx + 1e-10:
            x, fx = z, fz
    res2 = scipy.optimize.minimize(f, x, method="Powell", bounds=bounds,
                                   options={"xtol": 1e-10, "ftol": 1e-14, "maxfev": 200 * len(x)})
    if res2.fun < fx:
        x, fx = np.maximum(res2.x, lower), res2.fun
    messages, gradient, converged = [], None, True
    if check:
        free = ~(np.isfinite(lower) & (x - lower < 1e-4))
        if free.any():
            g, H = _fd_gradient_hessian(devfun, x, lower)
            gradient = g
            gf, Hf = g[free], H[np.ix_(free, free)]
            try:
                scaled = np.abs(np.linalg.solve(Hf, gf))
            except np.linalg.LinAlgError:
                scaled = np.abs(gf)
            if np.max(scaled) > 2e-3:
                converged = False
                messages.append(f"Model failed to converge with max|grad| = {np.max(scaled):.4g} "
                                "(tol = 0.002, component 1)")
    return OptResult(theta=x, fun=float(fx), nfev=nfev, message=str(res.message), gradient=gradient,
                     converged=converged, messages=tuple(messages))


def mk_mer_mod(devfun: DevFun, opt: OptResult, *, warn: bool = True) -> "LmerResult":
    """Assemble the result of a fit; warns like lme4 on a singular or unconverged fit."""
    m = LmerResult(design=devfun.design, devfun=devfun, opt=opt)
    if warn:
        for msg in opt.messages:
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        if m.is_singular:
            warnings.warn("boundary (singular) fit: see help('isSingular') — a variance is estimated as 0 or a "
                          "correlation as ±1; consider a simpler random-effects structure",
                          SingularFitWarning, stacklevel=3)
    return m


def lmer(formula: str, data: pd.DataFrame, REML: bool = True, *, start=None, warn: bool = True) -> "LmerResult":
    """Fit a linear mixed model with lme4's formula syntax.

    >>> m = lmer("Reaction ~ Days + (Days | Subject)", mlmkit.datasets.load("sleepstudy"))  # doctest: +SKIP
    >>> m.fixef                                                                              # doctest: +SKIP
    (Intercept)    251.405105
    Days            10.467286

    The equivalent R call is ``lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy)``.
    """
    design = lformula(formula, data)
    devfun = mk_lmer_devfun(design, REML=REML)
    opt = optimize_lmer(devfun, start=start)
    return mk_mer_mod(devfun, opt, warn=warn)


@dataclass(frozen=True, eq=False)
class LmerResult(MixedModelResult):
    """A fitted linear mixed model (immutable; properties are computed on first use)."""

    devfun: DevFun
    opt: OptResult

    family = None

    @property
    def REML(self) -> bool:
        return self.devfun.REML

    @cached_property
    def theta(self) -> np.ndarray:
        return np.asarray(self.opt.theta, float).copy()

    @cached_property
    def _factor(self) -> PLSFactor:
        return self.devfun.factor(self.theta)

    @cached_property
    def _beta(self) -> np.ndarray:
        return self._factor.beta

    @cached_property
    def _b(self):
        return self._factor.b()

    @cached_property
    def sigma(self) -> float:
        n, p = self.nobs, self.design.p
        return float(np.sqrt(self._factor.r2 / ((n - p) if self.REML else n)))

    @cached_property
    def vcov(self) -> pd.DataFrame:
        names = list(self.design.fixef_names)
        return pd.DataFrame(self.sigma ** 2 * self._factor.vcov_unscaled, index=names, columns=names)

    @cached_property
    def reml_criterion(self) -> float | None:
        return float(self.devfun(self.theta)) if self.REML else None

    @cached_property
    def deviance(self) -> float:
        """ML deviance; for a REML fit, evaluated at the REML estimates (as lme4's ``deviance()``)."""
        f = self._factor
        if not self.REML:
            return float(self.devfun.criterion(f))
        s2 = self.sigma ** 2
        return float(f.ldL2 + self.nobs * (_LOG2PI + np.log(s2)) + f.r2 / s2)

    @cached_property
    def loglik(self) -> float:
        """REML log-likelihood for REML fits, ML log-likelihood otherwise (R's ``logLik()``)."""
        return -0.5 * (self.reml_criterion if self.REML else self.deviance)

    @property
    def npar(self) -> int:
        return self.design.p + self.design.n_theta + 1

    @property
    def df_resid(self) -> int:
        return self.nobs - self.npar

    def _covariance_blocks(self) -> list[np.ndarray]:
        s2 = self.sigma ** 2
        return [s2 * (lam @ lam.T) for lam in (t.lambda_block(self.theta) for t in self.design.terms)]

    @property
    def _residual_sd(self) -> float | None:
        return self.sigma

    def residuals(self, type: str = "response", scaled: bool = False) -> np.ndarray:
        """Residuals ``y - fitted``; ``type="pearson"`` is the same for lmer; ``scaled`` divides by σ."""
        if type not in ("response", "pearson", "working", "deviance"):
            from .errors import ParameterError
            raise ParameterError(f"unknown residual type '{type}': use 'response' or 'pearson'")
        r = self.design.y - self.fitted
        return r / self.sigma if scaled else r

    def refit(self, y) -> "LmerResult":
        """Fit the same model to a new response vector (same design, warm start at θ̂)."""
        y = np.asarray(y, float)
        if y.shape != (self.nobs,):
            from .errors import DataError
            raise DataError(f"refit needs a response of length {self.nobs}, got shape {y.shape}")
        resp = pd.DataFrame({self.design.response.columns[0]: y})
        d = dataclasses.replace(self.design, response=resp)
        f = mk_lmer_devfun(d, REML=self.REML)
        return mk_mer_mod(f, optimize_lmer(f, start=self.theta, check=False), warn=False)

    def refit_ml(self) -> "LmerResult":
        """The same model fitted by maximum likelihood (what ``anova`` compares); self if already ML."""
        if not self.REML:
            return self
        f = mk_lmer_devfun(self.design, REML=False)
        return mk_mer_mod(f, optimize_lmer(f, start=self.theta), warn=False)

    def summary(self):
        from .display import summarize
        return summarize(self)
