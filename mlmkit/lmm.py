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
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.optimize

from .design import Design, lformula
from .errors import ParameterError
from .linalg import PLSFactor, PLSSystem, blas_threads
from .optimize import bobyqa, check_conv, fd_hessian, free_parameters
from .frozen import frozen_cached
from .rescale import check_scale_x, criterion_from_rescaled, rescaled, term_maps, theta_from_rescaled
from .results import MixedModelResult, warn_about_fit

__all__ = ["DevFun", "OptResult", "mk_lmer_devfun", "optimize_lmer", "mk_mer_mod", "lmer", "LmerResult"]

_LOG2PI = math.log(2.0 * math.pi)


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
        if not r2 > 0:
            return math.inf
        if self.REML:
            return ldL2 + ldRX2 + self._dof * (1.0 + _LOG2PI + math.log(r2 / self._dof))
        return ldL2 + self._dof * (1.0 + _LOG2PI + math.log(r2 / self._dof))

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
        dof = self._dof
        with np.errstate(divide="ignore", invalid="ignore"):
            out = ldL2 + dof * (1.0 + _LOG2PI + np.log(r2 / dof))
            if self.REML:
                out = out + ldRX2
        return np.where(r2 > 0, out, np.inf)

    @cached_property
    def has_gradient(self) -> bool:
        """True when :mod:`mlmkit.gradient` has a closed form for this model's structure."""
        s = self.design.structure
        return not s.q2 or self.system.crossed is not None

    def gradient(self, theta) -> np.ndarray:
        return self.factor(theta).gradient(self.REML)

    def value_and_gradient(self, theta) -> tuple[float, np.ndarray]:
        f = self.factor(theta)
        return self.criterion(f), f.gradient(self.REML)


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
    res = scipy.optimize.minimize(fun, x0, method="L-BFGS-B", jac=True if devfun.has_gradient else "3-point",
                                  bounds=bounds, options={"ftol": 1e-14, "gtol": 1e-8, "maxiter": maxiter})
    return np.asarray(res.x), float(res.fun), int(res.nfev), str(res.message)


def check_convergence(devfun: "DevFun", theta: np.ndarray, tol: float = 2e-3, f0: float | None = None
                      ) -> tuple[np.ndarray | None, list[str]]:
    """lme4's ``check.conv.grad``: the gradient at θ̂, scaled by the Hessian, must be below ``tol``.

    Parameters on their bound are left out (their gradient need not vanish).  ``f0`` is the
    criterion at θ̂ when the caller has it.  Returns the gradient and the warning messages.
    """
    free = free_parameters(theta, devfun.lower)
    if not free.any():
        return None, []
    g, H = fd_hessian(devfun, theta, devfun(theta) if f0 is None else f0, central=False)
    messages = check_conv(g, H, free, tol)
    return g, messages


_LARGE_BLOCK = 500     # crossed/nested random effects beyond block 1 from which "auto" uses the gradient


def optimize_lmer(devfun: DevFun, start=None, *, optimizer: str = "auto", check: bool = True,
                  boundary_tol: float = 1e-5) -> OptResult:
    """Minimise the criterion over θ within its bounds (Λ's diagonal ≥ 0), as lme4's ``optimizeLmer``.

    ``optimizer="bobyqa"`` is lme4's default, NLopt's BOBYQA (xtol_abs = ftol_abs = 1e-8): from the
    same start it stops where lme4 stops, so the printed digits agree even where the likelihood is
    flat.  ``"L-BFGS-B"`` uses the analytic gradient (:mod:`mlmkit.gradient`) and converges to the
    exact optimum in far fewer evaluations; for all-scalar crossed/nested models it starts, unless
    ``start`` is given, from each θ_k estimated with its term alone (:func:`mlmkit.crossed.single_term_start`).
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
            from .crossed import single_term_start
            x0 = np.maximum(single_term_start(devfun.system, devfun._criterion), lower)
        x, fx, nfev, message = _lbfgsb(devfun, x0, lower)
    else:
        from .errors import ParameterError
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
    gradient, messages = check_convergence(devfun, x, f0=fx) if check else (None, [])
    return OptResult(theta=x, fun=float(fx), nfev=nfev, message=message, gradient=gradient,
                     converged=not messages, messages=tuple(messages),
                     optimizer="nloptwrap" if optimizer == "bobyqa" else "L-BFGS-B")


def mk_mer_mod(devfun: DevFun, opt: OptResult, *, warn: bool = True) -> "LmerResult":
    """Assemble the result of a fit; warns like lme4 on a singular or unconverged fit."""
    m = LmerResult(design=devfun.design, devfun=devfun, opt=opt)
    if warn:
        warn_about_fit(m, opt.messages)
    return m


def lmer(formula: str, data: pd.DataFrame, REML: bool = True, *, start=None, optimizer: str = "auto",
         warn: bool = True) -> "LmerResult":
    """Fit a linear mixed model with lme4's formula syntax.

    >>> m = lmer("Reaction ~ Days + (Days | Subject)", mlmkit.datasets.load("sleepstudy"))  # doctest: +SKIP
    >>> m.fixef                                                                              # doctest: +SKIP
    (Intercept)    251.405105
    Days            10.467286

    The equivalent R call is ``lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy)``.
    """
    if not isinstance(REML, (bool, np.bool_)):
        raise ParameterError(f"REML must be True or False, not {REML!r} ({type(REML).__name__}): a string such "
                             "as 'FALSE' or 'no' would count as true")
    design = lformula(formula, data)
    if warn:
        check_scale_x(design.X, design.fixef_names)
    with blas_threads(design.structure):
        devfun = mk_lmer_devfun(design, REML=REML)
        return mk_mer_mod(devfun, _optimize(devfun, start, optimizer), warn=warn)


def _optimize(devfun: DevFun, start, optimizer: str) -> OptResult:
    """optimize_lmer, through centred/scaled random-slope columns when they are badly conditioned."""
    design, REML = devfun.design, devfun.REML
    maps = term_maps(design) if start is None else None
    if maps is None:
        return optimize_lmer(devfun, start=start, optimizer=optimizer)
    # Optimise (and check convergence of) the same model on centred/scaled columns, where the
    # criterion is well conditioned, and map θ back (mlmkit.rescale).
    inner = optimize_lmer(mk_lmer_devfun(rescaled(design, maps), REML=REML), optimizer=optimizer)
    theta = theta_from_rescaled(design, maps, inner.theta)
    return dataclasses.replace(inner, theta=theta, fun=criterion_from_rescaled(maps, inner.fun, REML),
                               gradient=None)


@dataclass(frozen=True, eq=False, repr=False)
class LmerResult(MixedModelResult):
    """A fitted linear mixed model (immutable; properties are computed on first use)."""

    devfun: DevFun
    opt: OptResult

    family = None

    @property
    def REML(self) -> bool:
        return self.devfun.REML

    @frozen_cached
    def theta(self) -> np.ndarray:
        return np.asarray(self.opt.theta, float).copy()

    @frozen_cached
    def _factor(self) -> PLSFactor:
        return self.devfun.factor(self.theta)

    @frozen_cached
    def _beta(self) -> np.ndarray:
        return self._factor.beta

    @frozen_cached
    def _b(self):
        return self._factor.b()

    @frozen_cached
    def sigma(self) -> float:
        n, p = self.nobs, self.design.p
        return float(np.sqrt(self._factor.r2 / ((n - p) if self.REML else n)))

    @frozen_cached
    def vcov(self) -> pd.DataFrame:
        names = list(self.design.fixef_names)
        return pd.DataFrame(self.sigma ** 2 * self._factor.vcov_unscaled, index=names, columns=names)

    @frozen_cached
    def reml_criterion(self) -> float | None:
        return float(self.devfun(self.theta)) if self.REML else None

    @frozen_cached
    def deviance(self) -> float:
        """lme4's ``deviance()``: the ML deviance, or for a REML fit the REML criterion."""
        return float(self.devfun.criterion(self._factor))

    @frozen_cached
    def loglik(self) -> float:
        """REML log-likelihood for REML fits, ML log-likelihood otherwise (R's ``logLik()``)."""
        return -0.5 * self.deviance

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
        d = dataclasses.replace(self.design, response_data={self.design.response_name: y})
        with blas_threads(d.structure):
            f = mk_lmer_devfun(d, REML=self.REML)
            return mk_mer_mod(f, optimize_lmer(f, start=self.theta, check=False), warn=False)

    def refit_ml(self) -> "LmerResult":
        """The same model fitted by maximum likelihood (what ``anova`` compares); self if already ML."""
        if not self.REML:
            return self
        with blas_threads(self.design.structure):
            f = mk_lmer_devfun(self.design, REML=False)
            start = None if term_maps(self.design) is not None else self.theta
            return mk_mer_mod(f, _optimize(f, start, "auto"), warn=False)

    def summary(self):
        from .display import summarize
        return summarize(self)
