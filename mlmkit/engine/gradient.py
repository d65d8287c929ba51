"""Analytic gradients of lme4's profiled criterion in θ.

Notation as in :mod:`mlmkit.engine.linalg`: A = Z'Z, M = Λ'AΛ + I = LL', Σ = I + ZΛΛ'Z' (so Σ⁻¹ = I − ZΛM⁻¹Λ'Z'),
W = X'Σ⁻¹X = R_X'R_X, r² the penalised residual sum of squares, e = y − Xβ̂ − ZΛû, and
E_k = ∂Λ/∂θ_k.  Then

    ∂ log|M| / ∂θ_k = 2 tr(M⁻¹Λ'A E_k)
    ∂ r² / ∂θ_k     = −2 (Z'e)' E_k û                       (envelope theorem: û, β̂ are optimal)
    ∂ log|W| / ∂θ_k = −2 tr(W⁻¹ C' E_k Λ' C),   C = Z'Σ⁻¹X
    ML:   ∂d = ∂log|M| + n/r² ∂r²          REML:  ∂d = ∂log|M| + ∂log|W| + (n − p)/r² ∂r²

Two structures have a closed form here: a single grouping factor (everything is a sum over levels of
small matrices), and models whose every term is a scalar random effect (crossed or nested random
intercepts such as InstEval's), where E_k is a diagonal indicator and tr(M⁻¹Λ'AE_k) reduces to the
diagonal of M⁻¹: for a column j with λ_j > 0, (M⁻¹Λ'A)_jj = (1 − (M⁻¹)_jj)/λ_j.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

from .linalg import PLSFactor, inv_lower_batched

__all__ = ["profiled_gradient"]


def profiled_gradient(f: PLSFactor, REML: bool) -> np.ndarray | None:
    """Gradient of the criterion at ``f.theta``, or None where no closed form is implemented."""
    s = f.system.structure
    if not s.q2:
        return _one_factor(f, REML)
    if f.system.crossed is not None:
        return _scalar_terms(f, REML)
    return None


def _combine(f: PLSFactor, REML: bool, dlogdet, dlogW, dr2) -> np.ndarray:
    n, p = f.system.nobs, f.p
    if REML:
        return dlogdet + dlogW + (n - p) / f.r2 * dr2
    return dlogdet + n / f.r2 * dr2


def _one_factor(f: PLSFactor, REML: bool) -> np.ndarray:
    """One grouping factor: with M_i = Λ'A_iΛ + I and v_i = Z_i'e_i per level,

    ∂log|M| = 2[Σ_i M_i⁻¹Λ'A_i]_{cr},  ∂r² = −2[Σ_i v_i û_i']_{rc},  ∂log|W| = −2[Σ_i Λ'C_iW⁻¹C_i']_{cr}
    for θ_k at position (r, c) of Λ, with C_i = B_i − A_iΛM_i⁻¹Λ'B_i.
    """
    sysm, p, lam = f.system, f.p, f.lam1
    A, B = sysm.A11, sysm.B1
    Linv = inv_lower_batched(f.L1)
    Minv = np.swapaxes(Linv, 1, 2) @ Linv
    LamA = lam.T @ A
    G = (Minv @ LamA).sum(axis=0)
    beta = f.beta
    u1, _ = f.u(beta)
    b1 = u1 @ lam.T
    v = B[..., p] - B[..., :p] @ beta - (A @ b1[..., None])[..., 0]
    V = v.T @ u1
    rows, cols = sysm.structure.theta_rc
    dlogW = 0.0
    if REML:
        BX = B[..., :p]
        C = BX - np.swapaxes(LamA, 1, 2) @ (Minv @ (lam.T @ BX))
        H = lam.T @ ((C @ f.vcov_unscaled) @ np.swapaxes(C, 1, 2)).sum(axis=0)
        dlogW = -2.0 * H[cols, rows]
    return _combine(f, REML, 2.0 * G[cols, rows], dlogW, -2.0 * V[rows, cols])


def _scalar_terms(f: PLSFactor, REML: bool) -> np.ndarray:
    """Every term a scalar random effect (Λ diagonal); see the module docstring.

    The diagonal of M⁻¹ comes from the blocked factor: (M⁻¹)₂₂ = S⁻¹ with S = L₂₂L₂₂', and for a
    level i of factor 1, (M⁻¹)_ii = 1/m_i + λ₁²(ã_i'S⁻¹ã_i)/m_i² with ã_i = D₂a_i.  Only their sum
    over i enters the gradient, Σ 1/m_i + λ₁² Σ_jk (S⁻¹)_jk d_j d_k Σ_i a_ij a_ik / m_i², whose inner
    sum is one product with the pair incidence of :mod:`mlmkit.engine.crossed`.
    """
    sysm, s, p = f.system, f.system.structure, f.p
    lam1 = float(f.lam1[0, 0])
    d2 = f.lam2.diagonal()
    l1 = f.L1[:, 0, 0]
    m1 = l1 * l1
    # S⁻¹ = L₂₂⁻ᵀL₂₂⁻¹ from LAPACK's triangular inverse and its product (lower triangle filled)
    Linv22, _ = scipy.linalg.lapack.dtrtri(f.L22, lower=1)
    Sinv, _ = scipy.linalg.lapack.dlauum(Linv22, lower=1)
    diag2 = np.diag(Sinv).copy()
    sum_diag1 = float(np.sum(1.0 / m1)) + lam1 * lam1 * sysm.crossed.trace_with(Sinv, 1.0 / (m1 * m1), d2)

    beta = f.beta
    u1, u2 = f.u(beta)
    b1, b2 = lam1 * u1[:, 0], d2 * u2
    A11 = sysm.A11[:, 0, 0]
    ze1 = sysm.B1[:, 0, p] - sysm.B1[:, 0, :p] @ beta - A11 * b1 - sysm.A12 @ b2
    ze2 = sysm.B2[:, p] - sysm.B2[:, :p] @ beta - sysm.A21 @ b1 - sysm.A22 @ b2

    # C = Z'X − AΛM⁻¹ΛZ'X, by one forward and one backward solve with the blocked factor
    B1X, B2X = sysm.B1[:, 0, :p], sysm.B2[:, :p]
    cdiag1 = cdiag2 = None
    if REML:
        W1 = lam1 * B1X / l1[:, None]
        W2 = scipy.linalg.solve_triangular(
            f.L22, d2[:, None] * B2X - d2[:, None] * (sysm.A21 @ (lam1 * W1 / l1[:, None])), lower=True,
            check_finite=False)
        Y2 = scipy.linalg.solve_triangular(f.L22, W2, lower=True, trans="T", check_finite=False)
        Y1 = (W1 - (lam1 / l1)[:, None] * (sysm.A12 @ (d2[:, None] * Y2))) / l1[:, None]
        LY1, LY2 = lam1 * Y1, d2[:, None] * Y2
        C1 = B1X - (A11[:, None] * LY1 + sysm.A12 @ LY2)
        C2 = B2X - (sysm.A21 @ LY1 + sysm.A22 @ LY2)
        Winv = f.vcov_unscaled
        cdiag1 = np.einsum("ij,jk,ik->i", C1, Winv, C1)
        cdiag2 = np.einsum("ij,jk,ik->i", C2, Winv, C2)

    k = len(f.theta)
    dlogdet, dlogW, dr2 = np.zeros(k), np.zeros(k), np.zeros(k)
    for t, (block, off) in enumerate(s.term_slices):
        lam = f.theta[s.term_theta[t]]
        if block == 1:
            tr, size, ze, u, cd = sum_diag1, s.n1, ze1, u1[:, 0], cdiag1
        else:
            sl = slice(off, off + s.term_sizes[t])
            tr, size, ze, u, cd = diag2[sl].sum(), s.term_sizes[t], ze2[sl], u2[sl], (cdiag2[sl] if REML else None)
        dlogdet[t] = 2.0 * (size - tr) / lam if lam > 0 else 0.0
        dr2[t] = -2.0 * np.dot(ze, u)
        if REML:
            dlogW[t] = -2.0 * lam * np.sum(cd)
    return _combine(f, REML, dlogdet, dlogW, dr2)
