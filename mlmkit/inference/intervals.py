"""Confidence intervals for a fitted mixed model: ``m.confint(parm, method, level)``, lme4's ``confint``.

Three methods, one table layout (lme4's ``oldNames = FALSE`` row names, columns named after the
level, ``2.5 %`` and ``97.5 %`` for 95%):

``"profile"`` (default)
    Likelihood-profile intervals (:mod:`mlmkit.inference.profile`): the values whose deviance is within
    χ²₁(level) of the minimum, read off the signed square-root profile ζ.  Valid for variance
    parameters, whose sampling distributions are skewed and bounded.
``"Wald"``
    β̂_j ± Φ⁻¹((1 + level)/2)·SE_j for the fixed effects; NaN for the variance parameters, as in
    lme4 (a symmetric interval around a standard deviation can cross 0).
``"boot"``
    Percentile intervals of a parametric bootstrap (:func:`mlmkit.inference.bootstrap.bootstrap`), ``nsim``
    simulations (default 500) from the fitted model, refitted.

>>> m.confint(parm="theta_")                        # doctest: +SKIP
>>> m.confint(method="Wald", level=0.9)             # doctest: +SKIP
>>> m.confint(method="boot", nsim=1000, seed=1)     # doctest: +SKIP

A parameter name that does not exist raises :class:`~mlmkit.errors.ParameterError` listing the
valid names; a level outside (0, 1) raises :class:`~mlmkit.errors.ParameterError`.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
from scipy.special import chdtrc, chdtri, ndtri

from .bootstrap import bootstrap, default_statistic
from ..errors import ParameterError
from .parameters import check_level, param_names, percent_labels, resolve_parm
from .profile import profile

__all__ = ["confint", "resolve_parm", "check_level", "percent_labels"]

_METHODS = {"profile": "profile", "wald": "Wald", "boot": "boot", "bootstrap": "boot"}


def confint(result, parm=None, method: str = "profile", level: float = 0.95, *, nsim: int = 500,
            seed=None, n_jobs: int = 1, progress: bool = False, **kwargs) -> pd.DataFrame:
    """Confidence intervals for the parameters of ``result`` (see the module docstring).

    Parameters
    ----------
    result : LmerResult or GlmerResult
    parm : None, "theta_", "beta_", str or list of str
        Parameters, with lme4's ``oldNames = FALSE`` names (``sd_(Intercept)|Cluster``, ``sigma``...).
    method : "profile", "Wald" or "boot"
    level : float in (0, 1)
    nsim, seed, n_jobs, progress
        Bootstrap settings (``method="boot"`` only).
    **kwargs
        Passed to :func:`mlmkit.inference.profile.profile` (``alphamax``, ``maxpts``...).

    Returns
    -------
    pandas.DataFrame
        One row per parameter, columns ``"2.5 %"``, ``"97.5 %"`` (named after the level).
    """
    level = check_level(level)
    key = _METHODS.get(str(method).lower()) if isinstance(method, str) else None
    if key is None:
        raise ParameterError(f"unknown confint method {method!r}: use 'profile', 'Wald' or 'boot'")
    vnames, fnames = param_names(result)
    idx = resolve_parm(parm, vnames, fnames)
    names = [(vnames + fnames)[i] for i in idx]
    a = (1.0 - level) / 2.0
    if key == "Wald":
        out = pd.DataFrame(np.nan, index=pd.Index(vnames + fnames), columns=percent_labels(level))
        se = np.sqrt(np.diag(result.vcov.to_numpy()))
        z = ndtri(np.array([a, 1.0 - a]))
        out.loc[fnames] = result.fixef.to_numpy()[:, None] + se[:, None] * z[None, :]
        return out.loc[names]
    if key == "profile":
        nptot = len(vnames) + len(fnames)
        if "alphamax" not in kwargs:
            # lme4 profiles to |ζ| = √χ²₀.₉₉(npar); a level beyond that needs a longer profile.
            zmax = ndtri(1.0 - a)
            if zmax > 0.98 * np.sqrt(chdtri(nptot, 0.01)):
                kwargs["alphamax"] = float(chdtrc(nptot, (zmax + 0.5) ** 2))
        return profile(result, which=names, **kwargs).confint(level=level)
    boot = bootstrap(result, default_statistic, nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)
    return boot.confint(level=level).loc[names]
