"""Generalized linear mixed models: lme4's ``glmer`` (Laplace approximation and adaptive Gauss-Hermite).

    d   = glmer_design(formula, data, family, weights, offset)   # glmresp.py: lFormula + the family's response
    f   = GlmerDevFun(d.design, d.response, nAGQ)                # pirls.py: deviance of (θ, β)
    opt = optimize_glmer(f)                                      # glmer_fit.py: stage 1 (θ), stage 2 (θ, β), Hessian
    m   = mk_glmer_mod(f, opt)                                   # here: GlmerResult

This module holds the model (``glmer``, ``mk_glmer_mod``, ``GlmerResult``); the engine parts are
re-exported from :mod:`mlmkit.engine.glmer_fit` and :mod:`mlmkit.spec.glmresp`.

How the fit gets there (lme4's two stages, the Hessian behind the standard errors, the analytic
gradient at scale) is told in :mod:`mlmkit.engine.glmer_fit`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engine.batchfit import refit as _refit
from .errors import ConvergenceWarning, ParameterError
from .frozen import frozen_cached
from .engine.glmer_fit import GlmerOpt, optimize_glmer
from .spec.glmresp import GlmerDesign, glmer_design
from .engine.linalg import blas_threads
from .engine.pirls import GlmerDevFun
from .results import MixedModelResult, warn_about_fit

__all__ = ["glmer", "GlmerResult", "GlmerOpt", "GlmerDesign", "glmer_design", "optimize_glmer", "mk_glmer_mod"]


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
        ``"binomial"`` (logit link) or ``"poisson"`` (log link), or ``mlmkit.spec.families.binomial("probit")``.
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
    _residual_sd = None

    # read-only views of the deviance function's response and of the optimiser's result
    family = property(lambda self: self.devfun.response.family)
    nAGQ = property(lambda self: self.devfun.nAGQ)
    response = property(lambda self: self.devfun.response)
    y = property(lambda self: self.response.y)
    prior_weights = property(lambda self: self.response.weights)
    trials = property(lambda self: self.response.trials)
    offset = property(lambda self: self.response.offset)
    messages = property(lambda self: self.opt.messages)

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
        V, H = None, self.opt.hessian
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
        One implementation with lmer's: :func:`mlmkit.engine.batchfit.refit`.
        """
        return _refit(self, y)

    def refit_ml(self) -> "GlmerResult":
        """glmer fits are maximum likelihood already (for ``anova``)."""
        return self
