"""GLM families and link functions for :func:`mlmkit.glmer`, with R's definitions.

A :class:`Family` bundles a response distribution and a :class:`Link`; its methods are R's
``family`` object's functions.  ``loglik`` includes the binomial coefficient and log y!, so that
−2 Σ loglik is R's ``family$aic()`` and lme4's logLik, AIC and BIC come out identical.  A binomial
response is the proportion y = successes / trials, with prior weight trials × user weight.

>>> get_family("binomial", link="loglog")                        # doctest: +SKIP
FamilyError: unknown link 'loglog' for the binomial family: use one of 'logit', 'probit', ...
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.special as sc

from ..errors import FamilyError

__all__ = ["Link", "Family", "binomial", "poisson", "get_family", "FAMILIES", "LINKS"]

_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class Link:
    """A link function g with its inverse and derivative, as R's ``make.link`` builds them."""

    name: str
    linkfun: Callable[[np.ndarray], np.ndarray]
    linkinv: Callable[[np.ndarray], np.ndarray]
    mu_eta: Callable[[np.ndarray], np.ndarray]

    def __str__(self) -> str:
        return self.name


# Clamps as in lme4's glmFamily.cpp (glmer's own link code, smoother than R's family.c thresholds):
# μ is kept inside [eps, 1 − eps] and dμ/dη above eps so PIRLS weights never vanish (for the
# probit link lme4 clamps only the upper end; the lower end is clamped here too, as R's family.c
# does, so that log μ stays finite).
def _clip01(f):
    return lambda eta: np.clip(f(eta), _EPS, 1.0 - _EPS)


def _above_eps(f):
    return lambda eta: np.maximum(f(eta), _EPS)


def _logit_mu_eta(eta):
    p = sc.expit(eta)
    return p * (1.0 - p)


def _cloglog_inv(eta):
    return -np.expm1(-np.exp(np.minimum(np.asarray(eta, float), 700.0)))


def _cloglog_mu_eta(eta):
    eta = np.minimum(np.asarray(eta, float), 700.0)
    return np.exp(eta - np.exp(eta))


LINKS: dict[str, Link] = {
    "logit": Link("logit", sc.logit, _clip01(sc.expit), _above_eps(_logit_mu_eta)),
    "probit": Link("probit", sc.ndtri, _clip01(sc.ndtr), _above_eps(
        lambda eta: np.exp(-0.5 * np.asarray(eta, float) ** 2) / np.sqrt(2.0 * np.pi))),
    "cauchit": Link("cauchit", lambda mu: np.tan(np.pi * (np.asarray(mu, float) - 0.5)),
                    _clip01(lambda eta: 0.5 + np.arctan(eta) / np.pi),
                    _above_eps(lambda eta: 1.0 / (np.pi * (1.0 + np.asarray(eta, float) ** 2)))),
    "cloglog": Link("cloglog", lambda mu: np.log(-np.log1p(-np.asarray(mu, float))),
                    _clip01(_cloglog_inv), _above_eps(_cloglog_mu_eta)),
    "log": Link("log", np.log, _above_eps(np.exp), _above_eps(np.exp)),
    "identity": Link("identity", lambda mu: np.asarray(mu, float), lambda eta: np.asarray(eta, float),
                     lambda eta: np.ones_like(np.asarray(eta, float))),
    "sqrt": Link("sqrt", np.sqrt, lambda eta: np.asarray(eta, float) ** 2,
                 lambda eta: 2.0 * np.asarray(eta, float)),
}


@dataclass(frozen=True)
class Family:
    """A response distribution with its link; the methods are R's ``family`` object's functions.

    Attributes
    ----------
    name : str
        ``"binomial"`` or ``"poisson"`` (as R's ``family(m)$family``).
    link : Link
        The link; ``family.link.name`` is what R prints (``"logit"``).
    canonical : str
        The family's canonical link, for which PIRLS's Fisher scoring is Newton's method.
    """

    name: str
    link: Link
    canonical: str
    _variance: Callable[[np.ndarray], np.ndarray]
    _dev_resids: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    _loglik: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    _mustart: Callable[[np.ndarray, np.ndarray], np.ndarray]
    _dev_kernel: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

    @property
    def is_canonical(self) -> bool:
        """Canonical link: dμ/dη = V(μ), so PIRLS's weights are wt·dμ/dη and Fisher scoring is Newton."""
        return self.link.name == self.canonical

    # R's family objects expose the link's functions directly; so does this class.
    linkfun = property(lambda self: self.link.linkfun, doc="η = g(μ)")
    linkinv = property(lambda self: self.link.linkinv, doc="μ = g⁻¹(η)")
    mu_eta = property(lambda self: self.link.mu_eta, doc="dμ/dη")

    def variance(self, mu):
        """V(μ), the variance function: Var(y) = φ V(μ) / weight with φ = 1 here."""
        return self._variance(np.asarray(mu, float))

    def dev_resids(self, y, mu, wt):
        """Unit deviances dᵢ = 2 wtᵢ [ℓ(yᵢ; yᵢ) − ℓ(yᵢ; μᵢ)]; their sum is the GLM deviance."""
        return self._dev_resids(np.asarray(y, float), np.asarray(mu, float), np.asarray(wt, float))

    def loglik(self, y, mu, wt, n=None):
        """Log density of each observation, with the constant terms (binomial coefficient, log y!);
        for the binomial, y is the proportion of successes out of ``n`` trials."""
        y = np.asarray(y, float)
        n = np.ones_like(y) if n is None else np.asarray(n, float)
        return self._loglik(y, np.asarray(mu, float), np.asarray(wt, float), n)

    def loglik_function(self, y, wt, n=None) -> Callable[[np.ndarray], float]:
        """μ ↦ Σ loglik(y, μ, wt, n) with the terms in y alone (binomial coefficients, log y!) summed once.

        The sum runs over the last axis, so a (B, n) array of means gives B log-likelihoods.
        """
        y = np.asarray(y, float)
        n = np.ones_like(y) if n is None else np.asarray(n, float)
        wt = np.asarray(wt, float)
        if self.name == "binomial":
            size, k, scale = _binomial_counts(y, wt, n)
            const = float(np.sum(scale * (sc.gammaln(size + 1.0) - sc.gammaln(k + 1.0) - sc.gammaln(size - k + 1.0))))
            a, b = scale * k, scale * (size - k)
            return lambda mu: const + np.sum(sc.xlogy(a, mu) + sc.xlog1py(b, -mu), axis=-1)
        const = float(-np.sum(wt * sc.gammaln(y + 1.0)))
        a = wt * y
        return lambda mu: const + np.sum(sc.xlogy(a, mu) - wt * mu, axis=-1)

    def aic(self, y, mu, wt, n=None) -> float:
        """R's ``family$aic(y, n, mu, wt)``: −2 Σ log density (no parameter penalty)."""
        return float(-2.0 * np.sum(self.loglik(y, mu, wt, n)))

    def dev_kernel(self, y, mu, wt):
        """The μ-dependent part of the unit deviance (dᵢ minus a term in yᵢ alone), cheaper to evaluate.

        Binomial: −2 wt [y log μ + (1 − y) log(1 − μ)];  Poisson: 2 wt (μ − y log μ).
        """
        return self._dev_kernel(np.asarray(y, float), np.asarray(mu, float), np.asarray(wt, float))

    def mustart(self, y, wt):
        """Starting means (R's ``family$initialize``): (wt·y + ½)/(wt + 1) or y + 0.1."""
        return self._mustart(np.asarray(y, float), np.asarray(wt, float))

    def __str__(self) -> str:
        return f"{self.name}({self.link.name})"


def _binomial_counts(y, wt, n):
    """R's binomial()$aic: with m = n if any(n > 1) else wt, the rounded trials round(m), successes
    round(m·y) and the scale ifelse(m > 0, wt/m, 0) of each observation's log density."""
    m = n if np.any(n > 1) else wt
    return np.round(m), np.round(m * y), np.divide(wt, m, out=np.zeros_like(wt), where=m > 0)


def _binomial_loglik(y, mu, wt, n):
    size, k, scale = _binomial_counts(y, wt, n)       # × dbinom(round(m*y), round(m), mu, log=TRUE)
    logc = sc.gammaln(size + 1.0) - sc.gammaln(k + 1.0) - sc.gammaln(size - k + 1.0)
    return np.where(scale > 0, scale * (logc + sc.xlogy(k, mu) + sc.xlog1py(size - k, -mu)), 0.0)


_FAMILY_SPECS = {
    "binomial": dict(
        links=("logit", "probit", "cauchit", "log", "cloglog"), canonical="logit",
        variance=lambda mu: np.maximum(mu * (1.0 - mu), _EPS),
        dev=lambda y, mu, wt: 2.0 * wt * (sc.xlogy(y, y / mu)
                                          + sc.xlogy(1.0 - y, (1.0 - y) / (1.0 - mu))),
        loglik=_binomial_loglik, mustart=lambda y, wt: (wt * y + 0.5) / (wt + 1.0),
        kernel=lambda y, mu, wt: -2.0 * wt * (sc.xlogy(y, mu) + sc.xlog1py(1.0 - y, -mu))),
    "poisson": dict(
        links=("log", "identity", "sqrt"), canonical="log", variance=lambda mu: mu,
        dev=lambda y, mu, wt: 2.0 * wt * (sc.xlogy(y, y / mu) - (y - mu)),
        loglik=lambda y, mu, wt, n: wt * (sc.xlogy(y, mu) - mu - sc.gammaln(y + 1.0)),
        mustart=lambda y, wt: y + 0.1, kernel=lambda y, mu, wt: 2.0 * wt * (mu - sc.xlogy(y, mu))),
}
FAMILIES = tuple(_FAMILY_SPECS)


def _make(name: str, link: str | None) -> Family:
    spec = _FAMILY_SPECS[name]
    link = spec["canonical"] if link is None else link
    if isinstance(link, Link):
        link = link.name
    if not isinstance(link, str) or link not in spec["links"]:
        valid = ", ".join(repr(k) for k in spec["links"])
        raise FamilyError(f"unknown link {link!r} for the {name} family: use one of {valid}")
    return Family(name, LINKS[link], spec["canonical"], spec["variance"], spec["dev"], spec["loglik"],
                  spec["mustart"], spec["kernel"])


def binomial(link: str = "logit") -> Family:
    """The binomial family (R's ``binomial(link = "logit")``); links logit, probit, cauchit, log, cloglog."""
    return _make("binomial", link)


def poisson(link: str = "log") -> Family:
    """The Poisson family (R's ``poisson(link = "log")``); links log, identity, sqrt."""
    return _make("poisson", link)


def get_family(family, link: str | None = None) -> Family:
    """A :class:`Family` from a name (``"binomial"``, ``"poisson"``) or a Family object.

    Raises
    ------
    FamilyError
        For an unknown family or link, naming the valid ones:
        ``FamilyError: unknown family 'gamma': glmer fits 'binomial' or 'poisson'``.
    """
    if isinstance(family, Family):
        return family if link is None else _make(family.name, link)
    if callable(family) and getattr(family, "__name__", None) in _FAMILY_SPECS:
        family = family.__name__
    if not isinstance(family, str):
        raise FamilyError(f"family must be a name such as 'binomial' or a Family object, not "
                          f"{type(family).__name__}")
    key = family.strip().lower()
    if key not in _FAMILY_SPECS:
        valid = " or ".join(repr(f) for f in FAMILIES)
        hint = (" (a Gaussian response needs no glmer: use mlmkit.lmer)" if key in ("gaussian", "normal")
                else "")
        raise FamilyError(f"unknown family {family!r}: glmer fits {valid}{hint}")
    return _make(key, link)
