"""Conditional variances of the random effects given the data (lme4's ``ranef(m, condVar = TRUE)``).

Statistics, not drawing: :func:`mlmkit.plots.caterpillar` reads them, and ``mk.plots.condvar`` is
re-exported for the lessons.  Batched over levels from the model's blocked Cholesky factor.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ..engine.linalg import PLSSystem, inv_lower_batched
from ..errors import ParameterError

__all__ = ["condvar"]


def condvar(m) -> dict[str, list[np.ndarray]]:
    """Conditional covariance of each group's random effects given the data (lme4's ``condVar``).

    For a linear mixed model, given θ̂ and β̂ the random effects b = Λu are normal with covariance

        Var(b | y) = σ² Λ (L Lᵀ)⁻¹ Λᵀ,     L Lᵀ = Λᵀ Zᵀ Z Λ + I,

    and this function returns its diagonal blocks, one q × q block per level of each term.  It is
    computed from the model's blocked Cholesky factor (:mod:`mlmkit.engine.linalg`): block 1 (the largest
    grouping factor) has M_i = L_i L_iᵀ per level, block 2 (the other terms) the factor L₂₂ of its
    Schur complement, and the cross block is L₂₁ = Λ₂ᵀ A₂₁ Λ₁ L₁⁻ᵀ with A₂₁ = Z₂ᵀZ₁.  Then

        (L Lᵀ)⁻¹ block 1 = M⁻¹ + Gᵀ G,   G = L₂₂⁻¹ L₂₁ L₁⁻¹ = L₂₂⁻¹ Λ₂ᵀ A₂₁ Λ₁ M⁻¹,
        (L Lᵀ)⁻¹ block 2 = L₂₂⁻ᵀ L₂₂⁻¹,

    batched over levels (no loop over groups).  For a GLMM the same formula holds with σ² = 1 and
    the factor at the converged PIRLS weights (the Laplace approximation's curvature).

    Returns
    -------
    dict
        Grouping factor → list (one entry per term on that factor, in ``ranef`` column order) of
        arrays of shape (n_levels, q, q).

    Raises
    ------
    ParameterError
        When the model carries no Cholesky factor (a result type this function does not know).
    """
    f, scale = _pls_factor(m)
    s = m.design.structure
    q1 = s.q1
    L1inv = inv_lower_batched(f.L1)                               # (n1, q1, q1)
    C1 = np.swapaxes(L1inv, 1, 2) @ L1inv                         # M⁻¹ = L₁⁻ᵀ L₁⁻¹ per level
    Cov2 = None
    if f.L22 is not None:
        W = f.lam1 @ C1                                            # Λ₁ M_i⁻¹ per level
        Wbd = sp.bsr_matrix((W, np.arange(s.n1), np.arange(s.n1 + 1)), shape=(s.n1 * q1, s.n1 * q1))
        K = np.asarray((f.lam2.T @ (f.system.A21 @ Wbd)).todense())   # L₂₁ L₁⁻¹, q2 × n1q1
        G = scipy.linalg.solve_triangular(f.L22, K, lower=True, check_finite=False)
        G3 = G.reshape(G.shape[0], s.n1, q1)
        C1 = C1 + np.einsum("rij,rik->ijk", G3, G3)
        L22inv = scipy.linalg.solve_triangular(f.L22, np.eye(f.L22.shape[0]), lower=True, check_finite=False)
        V = np.asarray((f.lam2 @ L22inv.T).T)                      # L₂₂⁻¹ Λ₂ᵀ
        Cov2 = V.T @ V                                             # Λ₂ (L₂₂ L₂₂ᵀ)⁻¹ Λ₂ᵀ
    Cov1 = f.lam1 @ C1 @ f.lam1.T                                 # Λ₁ C₁ Λ₁ᵀ, per level
    out: dict[str, list[np.ndarray]] = {}
    for t, (block, off) in zip(m.design.terms, s.term_slices):
        if block == 1:
            v = Cov1[:, off:off + t.q, off:off + t.q]
        else:
            idx = off + np.arange(t.n_levels)[:, None] * t.q + np.arange(t.q)
            v = Cov2[idx[:, :, None], idx[:, None, :]]
        out.setdefault(t.group, []).append(scale * v)
    return out


def _pls_factor(m):
    """The Cholesky factor of Λ'Z'WZΛ + I and the scale σ² of the conditional covariance.

    An lmer fit carries its factor (W = I) and σ.  For a glmer fit W holds the working weights
    wᵢ = priorᵢ · (dμ/dη)ᵢ² / V(μᵢ) at the converged conditional modes, and σ² = 1.
    """
    if getattr(m, "_factor", None) is not None and hasattr(m._factor, "L1"):
        return m._factor, float(m.sigma) ** 2
    state, family = getattr(getattr(m, "opt", None), "state", None), getattr(m, "family", None)
    if state is None or family is None:
        raise ParameterError(f"condvar needs a fitted lmer or glmer model, not {type(m).__name__}")
    w = np.asarray(m.prior_weights, float) * family.mu_eta(state.eta) ** 2 / family.variance(state.mu)
    system = PLSSystem(m.design.structure, m.design.X, np.zeros(m.nobs), sqrtw=np.sqrt(w))
    return system.factor(np.asarray(m.theta, float)), 1.0
