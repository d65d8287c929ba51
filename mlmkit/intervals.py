"""Confidence intervals for a fitted mixed model: ``m.confint(parm, method, level)``, lme4's ``confint``.

Three methods, one table layout (lme4's ``oldNames = FALSE`` row names, columns named after the
level, ``2.5 %`` and ``97.5 %`` for 95%):

``"profile"`` (default)
    Likelihood-profile intervals (:mod:`mlmkit.profile`): the values whose deviance is within
    χ²₁(level) of the minimum, read off the signed square-root profile ζ.  Valid for variance
    parameters, whose sampling distributions are skewed and bounded.
``"Wald"``
    β̂_j ± Φ⁻¹((1 + level)/2)·SE_j for the fixed effects; NaN for the variance parameters, as in
    lme4 (a symmetric interval around a standard deviation can cross 0).
``"boot"``
    Percentile intervals of a parametric bootstrap (:func:`mlmkit.bootstrap.bootstrap`), ``nsim``
    simulations (default 500) from the fitted model, refitted.

>>> m.confint(parm="theta_")                        # doctest: +SKIP
>>> m.confint(method="Wald", level=0.9)             # doctest: +SKIP
>>> m.confint(method="boot", nsim=1000, seed=1)     # doctest: +SKIP

A parameter name that does not exist raises :class:`~mlmkit.errors.ParameterError` listing the
valid names; a level outside (0, 1) raises :class:`~mlmkit.errors.ParameterError`.
"""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy.special import chdtrc, chdtri, ndtri

from .errors import ParameterError

__all__ = ["confint", "resolve_parm", "check_level", "percent_labels"]

_METHODS = {"profile": "profile", "wald": "Wald", "boot": "boot", "bootstrap": "boot"}


def check_level(level) -> float:
    """The confidence level as a float in (0, 1), or a ParameterError saying what is wrong."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0.0 < float(level) < 1.0:
        hint = " (write 0.95, not 95)" if isinstance(level, numbers.Real) and 1.0 < float(level) < 100.0 else ""
        raise ParameterError(f"level must be a number strictly between 0 and 1, got {level!r}{hint}")
    return float(level)


def percent_labels(level: float) -> list[str]:
    """Column names as R's ``format.perc(a, 3)``: '2.5 %', '97.5 %' for level 0.95."""
    a = (1.0 - level) / 2.0
    perc = [100.0 * a, 100.0 * (1.0 - a)]
    decimals = 0
    for v in perc:                 # R: 3 significant digits, then one common number of decimals
        s = f"{v:.3g}"
        if "e" not in s and "." in s:
            decimals = max(decimals, len(s.split(".")[1]))
    return [f"{v:.{decimals}f} %" for v in perc]


def resolve_parm(parm, vnames: list[str], fnames: list[str]) -> list[int]:
    """Positions (in variance parameters + fixed effects) selected by ``parm``, like lme4's get.which.

    ``None`` selects all; ``"theta_"`` the variance parameters (and σ); ``"beta_"`` the fixed
    effects; otherwise a name or a list of names (and of the two keywords), returned in model order.
    """
    allnames = list(vnames) + list(fnames)
    if parm is None:
        return list(range(len(allnames)))
    items = [parm] if isinstance(parm, str) else list(parm) if isinstance(parm, (list, tuple, pd.Index, np.ndarray)) else None
    if items is None:
        raise ParameterError(f"parm must be None, 'theta_', 'beta_', a parameter name or a list of names, "
                             f"not {type(parm).__name__}")
    chosen: set[int] = set()
    for it in items:
        if it == "theta_":
            chosen.update(range(len(vnames)))
        elif it == "beta_":
            chosen.update(range(len(vnames), len(allnames)))
        elif isinstance(it, str) and it in allnames:
            chosen.add(allnames.index(it))
        else:
            raise ParameterError(f"unknown parameter {it!r}; the parameters of this model are: "
                                 + ", ".join(repr(a) for a in allnames) + " (or 'theta_' for all variance "
                                 "parameters, 'beta_' for all fixed effects)")
    return sorted(chosen)


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
        Passed to :func:`mlmkit.profile.profile` (``alphamax``, ``maxpts``...).

    Returns
    -------
    pandas.DataFrame
        One row per parameter, columns ``"2.5 %"``, ``"97.5 %"`` (named after the level).
    """
    from .profile import param_names
    level = check_level(level)
    key = _METHODS.get(str(method).lower()) if isinstance(method, str) else None
    if key is None:
        raise ParameterError(f"unknown confint method {method!r}: use 'profile', 'Wald' or 'boot'")
    vnames, fnames = param_names(result)
    idx = resolve_parm(parm, vnames, fnames)
    names = [(vnames + fnames)[i] for i in idx]
    cols = percent_labels(level)
    a = (1.0 - level) / 2.0
    if key == "Wald":
        out = pd.DataFrame(np.nan, index=pd.Index(vnames + fnames), columns=cols)
        se = np.sqrt(np.diag(result.vcov.to_numpy()))
        z = ndtri(np.array([a, 1.0 - a]))
        out.loc[fnames] = result.fixef.to_numpy()[:, None] + se[:, None] * z[None, :]
        return out.loc[names]
    if key == "profile":
        from .profile import profile
        nptot = len(vnames) + len(fnames)
        if "alphamax" not in kwargs:
            # lme4 profiles to |ζ| = √χ²₀.₉₉(npar); a level beyond that needs a longer profile.
            zmax = ndtri(1.0 - a)
            if zmax > 0.98 * np.sqrt(chdtri(nptot, 0.01)):
                kwargs["alphamax"] = float(chdtrc(nptot, (zmax + 0.5) ** 2))
        return profile(result, which=names, **kwargs).confint(level=level)
    from .bootstrap import bootstrap, default_statistic
    boot = bootstrap(result, default_statistic, nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)
    return boot.confint(level=level).loc[names]
