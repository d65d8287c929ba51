"""The parameters of a fitted mixed model as lme4's ``confint``, ``profile`` and ``bootMer`` name them.

Names follow lme4's ``oldNames = FALSE`` (``sd_(Intercept)|Subject``, ``cor_Days.(Intercept)|Subject``,
``sigma``, then the fixed effects); the variance parameters move between θ (Λ's lower triangle)
and lme4's profile scale of standard deviations and correlations; and the shared argument checks
of the interval functions (``level``, ``parm``) and their column labels (``2.5 %``) live here once,
so that profiles, bootstrap and intervals import this module rather than each other.
"""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from ..errors import ParameterError

__all__ = ["param_names", "sdcor_to_theta", "theta_to_sdcor", "check_level", "percent_labels", "resolve_parm"]


# --------------------------------------------------------------------------------------------------
# parameter names and the (sd, cor) <-> θ maps
# --------------------------------------------------------------------------------------------------
def param_names(m) -> tuple[list[str], list[str]]:
    """lme4's ``oldNames = FALSE`` names: (variance parameters incl. ``sigma``, fixed effects).

    For ``(1 + X | Cluster)``: ``sd_(Intercept)|Cluster``, ``cor_X.(Intercept)|Cluster``,
    ``sd_X|Cluster`` (the lower triangle of each term's sd/cor matrix, column by column), then
    ``sigma`` for a model with a residual scale.
    """
    names = []
    for t in m.design.terms:
        for i, j in zip(*t.tri_indices):
            names.append(f"sd_{t.columns[i]}|{t.group}" if i == j else f"cor_{t.columns[i]}.{t.columns[j]}|{t.group}")
    if m._residual_sd is not None:
        names.append("sigma")
    return names, list(m.design.fixef_names)


def _psd_cholesky(S: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a batch (K, q, q) of positive semi-definite matrices.

    A zero pivot gives a zero column (a correlation of ±1 or a standard deviation of 0), like
    lme4's ``safe_chol``; only L L' = S matters to the deviance.
    """
    K, q, _ = S.shape
    L = np.zeros_like(S)
    for j in range(q):
        d = np.maximum(S[:, j, j] - (L[:, j, :j] ** 2).sum(axis=1), 0.0)
        L[:, j, j] = ljj = np.sqrt(d)
        safe = np.where(ljj > 0, ljj, 1.0)
        for i in range(j + 1, q):
            L[:, i, j] = np.where(ljj > 0, (S[:, i, j] - (L[:, i, :j] * L[:, j, :j]).sum(axis=1)) / safe, 0.0)
    return L


def sdcor_to_theta(terms, P: np.ndarray, sigma=None) -> np.ndarray:
    """θ (K, n_theta) from standard deviations and correlations (K, n_theta): Λ_k = chol(Σ_k / σ²)."""
    P = np.atleast_2d(P)
    K = P.shape[0]
    s2 = np.ones(K) if sigma is None else np.asarray(sigma, float) ** 2
    out = np.empty_like(P)
    for t in terms:
        r, c = t.tri_indices
        v = P[:, t.theta_offset:t.theta_offset + t.n_theta]
        sd = v[:, r == c]                                                 # (K, q) in column order
        S = np.zeros((K, t.q, t.q))
        S[:, r, c] = np.where(r == c, 1.0, v) * sd[:, r] * sd[:, c]
        S[:, c, r] = S[:, r, c]
        L = _psd_cholesky(S / s2[:, None, None])
        out[:, t.theta_offset:t.theta_offset + t.n_theta] = L[:, r, c]
    return out


def theta_to_sdcor(terms, theta: np.ndarray, sigma=None) -> np.ndarray:
    """Standard deviations and correlations (K, n_theta) from θ: Σ_k = σ² Λ_k Λ_k'."""
    theta = np.atleast_2d(theta)
    K = theta.shape[0]
    s2 = np.ones(K) if sigma is None else np.asarray(sigma, float) ** 2
    out = np.empty_like(theta)
    for t in terms:
        r, c = t.tri_indices
        lam = np.zeros((K, t.q, t.q))
        lam[:, r, c] = theta[:, t.theta_offset:t.theta_offset + t.n_theta]
        S = lam @ np.swapaxes(lam, 1, 2) * s2[:, None, None]
        sd = np.sqrt(np.diagonal(S, axis1=1, axis2=2))
        with np.errstate(invalid="ignore", divide="ignore"):
            cor = S[:, r, c] / (sd[:, r] * sd[:, c])
        out[:, t.theta_offset:t.theta_offset + t.n_theta] = np.where(r == c, sd[:, r], cor)
    return out


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
    # R: 3 significant digits, then one common number of decimals
    shown = [f"{v:.3g}" for v in perc]
    decimals = max((len(s.split(".")[1]) for s in shown if "e" not in s and "." in s), default=0)
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
