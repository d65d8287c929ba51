"""Fit random slopes on badly scaled or uncentred covariates at the model's exact optimum.

A random slope on years 2010-2019, or on a covariate in thousandths, makes the criterion of θ nearly
flat along one direction and steep along another: lme4's BOBYQA stops far from the optimum (often on
a spurious singular boundary).  The *model* does not depend on such choices: for a term with an
unstructured covariance, Z_t A (any invertible A) gives the same likelihood with b = A b′ and
Σ = A Σ′ Aᵀ.  So mlmkit optimises over a centred and scaled copy of such columns, x → (x − c)/s in a
term with an intercept and an unstructured covariance, x → x/s otherwise (centring would move
variance into another term's block), and maps the optimum back.  Only badly conditioned columns are
transformed (|mean| > 10 sd, or sd outside [1e-2, 1e2]), so well scaled models follow lme4's
optimiser path exactly; X is centred and scaled alongside; the reported fit is evaluated on the
original design.

:func:`check_scale_x` gives lme4's ``checkScaleX`` advice, a :class:`ScaleWarning` "Some predictor
variables are on very different scales: consider rescaling" (column sds more than 1000 times apart).
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ..errors import MlmkitWarning

__all__ = ["ScaleWarning", "term_maps", "rescaled", "theta_from_rescaled", "criterion_from_rescaled",
           "check_scale_x"]

_CENTRE_RATIO = 10.0
_SD_RANGE = (1e-2, 1e2)


class ScaleWarning(MlmkitWarning):
    """lme4's ``checkScaleX`` advice: fixed-effect columns on very different scales."""


def _column_map(values: np.ndarray, names, unstructured: bool):
    """(A, changed) for one term's columns (R names ``names``): Z A are the centred/scaled ones."""
    values = np.asarray(values, float)
    intercept_col = names.index("(Intercept)") if "(Intercept)" in names else None
    A, changed = np.eye(values.shape[1]), False
    for k in range(values.shape[1]):
        if k == intercept_col:
            continue
        x = values[:, k]
        sd = float(np.std(x))
        if not np.isfinite(sd) or sd == 0.0:
            continue
        mean = float(np.mean(x))
        centre = intercept_col is not None and unstructured and abs(mean) > _CENTRE_RATIO * sd
        if not centre and _SD_RANGE[0] <= sd <= _SD_RANGE[1]:
            continue
        changed = True
        # column k of Z A = (x − c)/s = x/s − (c/s)·1
        A[k, k] = 1.0 / sd
        if centre:
            A[intercept_col, k] = -mean / sd
    return A, changed


def term_maps(design) -> tuple[list[np.ndarray], np.ndarray] | None:
    """(per-term A_t with Z_t A_t well scaled, B with X B well scaled), or None when no term needs it.

    X is transformed along with Z (only when some term is): the profiled ML criterion does not
    depend on X's parametrisation and the REML criterion only shifts by the constant 2 log|det B|,
    so the optimum in θ is the same, and a centred X keeps the criterion accurate enough for the
    finite-difference convergence check to see a converged fit.
    """
    maps, any_changed = [], False
    for t in design.terms:
        A, changed = _column_map(t.values, list(t.columns), unstructured=t.q > 1)
        maps.append(A)
        any_changed |= changed
    if not any_changed:
        return None
    return maps, _column_map(design.X, list(design.fixef_names), unstructured=True)[0]


def rescaled(design, maps):
    """The same design with each term's columns replaced by Z_t A_t and X by X B."""
    term_maps_, B = maps
    terms = tuple(dataclasses.replace(t, values=np.asarray(t.values, float) @ A)
                  for t, A in zip(design.terms, term_maps_))
    return design.replace(terms=terms, X=np.asarray(design.X, float) @ B)


def theta_from_rescaled(design, maps, theta_prime: np.ndarray) -> np.ndarray:
    """θ of the original design with the same covariance: Λ_t Λ_tᵀ = A_t Λ′_t Λ′_tᵀ A_tᵀ.

    A_t is triangular with a positive diagonal (upper: column k mixes in the intercept column only),
    so A_t Λ′_t is triangular too, but upper times lower: the Cholesky factor of the product is taken
    by QR (Λ_t = Lᵀ of qr((A_t Λ′_t)ᵀ)), which also handles a singular Λ′_t without failing.
    """
    theta = np.empty_like(np.asarray(theta_prime, float))
    for t, A in zip(design.terms, maps[0]):
        M = A @ t.lambda_block(theta_prime)
        r = np.linalg.qr(M.T, mode="r")                # M Mᵀ = rᵀ r, r upper triangular
        lam = r.T * np.where(np.diag(r) < 0, -1.0, 1.0)  # columns flipped to a non-negative diagonal
        rows, cols = t.tri_indices
        theta[t.theta_offset:t.theta_offset + t.n_theta] = lam[rows, cols]
    return theta


def criterion_from_rescaled(maps, fun_prime: float, REML: bool) -> float:
    """The original design's criterion at the mapped θ, from the rescaled one's.

    ML: the same.  REML: its log|X'V⁻¹X| term grows by 2 log|det B| when X becomes X B, so the
    original criterion is the rescaled one minus 2 log|det B| (exact, and more accurate than
    evaluating the badly conditioned original design).
    """
    if not REML:
        return float(fun_prime)
    return float(fun_prime - 2.0 * np.linalg.slogdet(maps[1])[1])


def check_scale_x(X: np.ndarray, names, tol: float = 1e3) -> None:
    """lme4's ``checkScaleX``: warn when continuous columns' standard deviations differ by > ``tol``."""
    if X.shape[0] < 2:
        return
    binary = np.all((X == 0) | (X == 1), axis=0)
    sd = X[:, ~binary].std(axis=0, ddof=1)
    sd = sd[np.isfinite(sd) & (sd > 0)]
    if sd.size >= 2 and sd.max() / sd.min() > tol:
        warnings.warn("Some predictor variables are on very different scales: consider rescaling",
                      ScaleWarning, stacklevel=3)
