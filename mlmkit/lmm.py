"""Linear mixed models: lme4's ``lmer`` as four public steps, and the fitted model.

    d   = lformula(formula, data)        # design.py: parse, build X, Z blocks, θ template
    f   = mk_lmer_devfun(d, REML=True)   # lmer_fit.py: the profiled deviance / REML criterion of θ
    opt = optimize_lmer(f)               # lmer_fit.py: bounded minimisation over θ
    m   = mk_mer_mod(f, opt)             # here: the immutable result, LmerResult

The engine (:mod:`mlmkit.engine.lmer_fit`: ``DevFun``, ``OptResult``, ``mk_lmer_devfun``, ``optimize_lmer``)
is re-exported, so ``lmm.mk_lmer_devfun`` and ``lmm.optimize_lmer`` keep working.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engine.batchfit import refit as _refit
from .spec.design import lformula
from .errors import ParameterError
from .frozen import frozen_cached
from .engine.linalg import PLSFactor, blas_threads
from .engine.lmer_fit import DevFun, OptResult, mk_lmer_devfun, optimize_lmer, optimize_rescaled
from .spec.rescale import check_scale_x, term_maps
from .results import MixedModelResult, warn_about_fit

__all__ = ["DevFun", "OptResult", "mk_lmer_devfun", "optimize_lmer", "mk_mer_mod", "lmer", "LmerResult"]


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
        return mk_mer_mod(devfun, optimize_rescaled(devfun, start, optimizer), warn=warn)


@dataclass(frozen=True, eq=False, repr=False)
class LmerResult(MixedModelResult):
    """A fitted linear mixed model (immutable; properties are computed on first use)."""

    devfun: DevFun
    opt: OptResult

    family = None
    REML = property(lambda self: self.devfun.REML)
    _residual_sd = property(lambda self: self.sigma)

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

    def residuals(self, type: str = "response", scaled: bool = False) -> np.ndarray:
        """Residuals ``y - fitted``; ``type="pearson"`` is the same for lmer; ``scaled`` divides by σ."""
        if type not in ("response", "pearson", "working", "deviance"):
            raise ParameterError(f"unknown residual type '{type}': use 'response' or 'pearson'")
        r = self.design.y - self.fitted
        return r / self.sigma if scaled else r

    def refit(self, y) -> "LmerResult":
        """Fit the same model to a new response vector (same design, warm start at θ̂; lme4's ``refit``).

        BOBYQA as in :func:`lmer`, without the convergence check (:func:`mlmkit.engine.batchfit.refit`).
        """
        return _refit(self, y, batched=False)

    def refit_ml(self) -> "LmerResult":
        """The same model fitted by maximum likelihood (what ``anova`` compares); self if already ML."""
        if not self.REML:
            return self
        with blas_threads(self.design.structure):
            f = mk_lmer_devfun(self.design, REML=False)
            start = None if term_maps(self.design) is not None else self.theta
            return mk_mer_mod(f, optimize_rescaled(f, start, "auto"), warn=False)
