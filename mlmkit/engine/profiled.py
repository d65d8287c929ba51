"""The profiled criterion's three parts in closed form, for one grouping factor with q ≤ 2 effects.

Most models taught (random intercepts; correlated or independent intercepts and slopes on one
factor) have a single grouping factor with one or two random effects per level.  There the optimiser's
~50 evaluations of the criterion dominate a small fit, so each evaluation is written as a handful of
vectorised operations, with no per-level Cholesky factor at all.

With G = ΛΛ' (q × q) and the per-level cross-products A_i = Z_i'Z_i and B_i = Z_i'[X y],

    |Λ'A_iΛ + I| = |I + G A_i|                                  (Sylvester's determinant identity)
    Λ(Λ'A_iΛ + I)⁻¹Λ' = (I + G A_i)⁻¹G =: K_i                    (push-through identity)

and for q = 2 both are explicit (adj(A) = [[a₁₁, −a₀₁], [−a₀₁, a₀₀]]):

    d_i = |I + G A_i| = 1 + g₀₀a₀₀ + 2g₀₁a₀₁ + g₁₁a₁₁ + |G||A_i|
    K_i = (G + |G| adj(A_i)) / d_i

so d and the three distinct entries of d·K are linear in v = [1, g₀₀, g₀₁, g₁₁, |G|]: one product of v
with a (5 × 4n₁) basis built once from the levels' a₀₀, a₀₁, a₁₁ and |A_i|.  Then

    log|L|² = Σ_i log d_i,      Σ_i R_i'R_i = Σ_i B_i'K_iB_i,      S = [X y]'[X y] − Σ_i B_i'K_iB_i,

and the Cholesky pivots of the small (p+1) × (p+1) matrix S give log|R_X|² (the first p) and r² (the
last).  Every term of d_i is non-negative, so nothing cancels there; |A_i| is computed once from the
data as a₀₀ Σ_rows (z₁ − (a₀₁/a₀₀) z₀)², which stays accurate when a level's slope column barely varies.

:meth:`SmallBlock.schur_many` with :func:`schur_parts` does the same for K values of θ at once (the
finite-difference convergence check's ~10 points cost about one evaluation).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["SmallBlock", "schur_parts"]


class SmallBlock:
    """Closed-form (log|L|², log|R_X|², r²) for one grouping factor with q₁ ∈ {1, 2} (see module doc).

    Built from the per-level cross-products of a :class:`~mlmkit.engine.linalg.PLSSystem`: ``A`` (n₁, q, q),
    ``B`` (n₁, q, m) with m = p + 1, ``XyXy`` (m, m), plus the rows' codes and (weighted) Z columns
    for an accurate |A_i|.  ``lam_index`` gives the θ position of Λ's elements (-1: structural zero).
    """

    def __init__(self, A: np.ndarray, B: np.ndarray, XyXy: np.ndarray, codes: np.ndarray, z: np.ndarray,
                 lam_index: np.ndarray):
        n1, q, m = B.shape
        self.n1, self.q, self.m, self.XyXy = n1, q, m, XyXy
        self._XyXy_flat = XyXy.reshape(-1)
        idx = lam_index
        self._ia = int(idx[0, 0])
        if q == 1:
            self.a = np.ascontiguousarray(A[:, 0, 0])
            self.outer = (B[:, 0, :, None] * B[:, 0, None, :]).reshape(n1, m * m)
            return
        self._ib = int(idx[1, 0])            # -1 for independent effects (x || g)
        self._ic = int(idx[1, 1])
        a00, a01, a11 = A[:, 0, 0], A[:, 0, 1], A[:, 1, 1]
        # |A_i| = a00 * Σ (z1 − c z0)² with c = a01/a00: no cancellation of a00·a11 against a01².
        c = np.divide(a01, a00, out=np.zeros(n1), where=a00 > 0)
        resid = z[:, 1] - c[codes] * z[:, 0]
        detA = a00 * np.bincount(codes, weights=resid * resid, minlength=n1)
        # E = v @ T with v = [1, g00, g01, g11, |G|] gives the rows [d, dK00, dK01, dK11] (4 × n1):
        one, zero = np.ones(n1), np.zeros(n1)
        T = np.array([[one, zero, zero, zero],
                      [a00, one, zero, zero],
                      [2.0 * a01, zero, one, zero],
                      [a11, zero, zero, one],
                      [detA, a11, -a01, a00]])
        self.basis = T.reshape(5, 4 * n1)
        outer = (lambda u, v: (u[:, :, None] * v[:, None, :]).reshape(n1, m * m))
        B0, B1 = B[:, 0, :], B[:, 1, :]
        self.outer = np.concatenate([outer(B0, B0), outer(B0, B1) + outer(B1, B0), outer(B1, B1)])

    def parts(self, theta) -> tuple[float, float, float]:
        """(log|L|², log|R_X|², r²) at one θ; log|R_X|² is inf when X is rank deficient there."""
        m = self.m
        t = theta.tolist() if isinstance(theta, np.ndarray) else list(theta)
        if self.q == 1:
            g = t[self._ia] ** 2
            d = g * self.a + 1.0
            W = g / d
        else:
            a, c = t[self._ia], t[self._ic]
            b = t[self._ib] if self._ib >= 0 else 0.0
            E = (np.array([1.0, a * a, a * b, b * b + c * c, (a * c) ** 2]) @ self.basis).reshape(4, self.n1)
            d = E[0]
            W = E[1:] / d                        # rows K00, K01, K11 of each level
        S = (self._XyXy_flat - W.reshape(-1) @ self.outer).tolist()
        piv = _cholesky_pivots([S[i * m:(i + 1) * m] for i in range(m)])
        ldL2 = float(np.add.reduce(np.log(d)))
        r2 = piv.pop()
        ldRX2 = 0.0
        for v in piv:
            if not v > 0.0:
                return ldL2, math.inf, max(r2, 0.0)
            ldRX2 += math.log(v)
        return ldL2, ldRX2, max(r2, 0.0)

    def schur_many(self, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log|L|² (K,), S = [X y]'[X y] − Σ_i B_i'K_iB_i (K, m, m)) at each row of ``thetas``."""
        th = np.atleast_2d(np.asarray(thetas, float))
        K, m = len(th), self.m
        if self.q == 1:
            g = th[:, self._ia, None] ** 2
            d = g * self.a + 1.0                                 # (K, n1)
            W = g / d
        else:
            a, c = th[:, self._ia], th[:, self._ic]
            b = th[:, self._ib] if self._ib >= 0 else np.zeros(K)
            V = np.column_stack([np.ones(K), a * a, a * b, b * b + c * c, (a * c) ** 2])
            E = (V @ self.basis).reshape(K, 4, -1)
            d = E[:, 0]
            W = (E[:, 1:] / d[:, None]).reshape(K, -1)
        return np.log(d).sum(axis=1), self.XyXy - (W @ self.outer).reshape(K, m, m)


def schur_parts(ldL2: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log|L|², log|R_X|², r²) at K values of θ from log|L|² (K,) and the Schur complements
    S = [X y]'[X y] − R_ZXy'R_ZXy (K, m, m): the squared Cholesky pivots of S are R_X's squared
    diagonal (the first p, log|R_X|² = Σ log) and r² (the last, floored at 0); log|R_X|² is inf
    where X is rank deficient at that θ."""
    p = S.shape[1] - 1
    try:                               # one LAPACK call for the stack: fastest for the usual case
        d = np.diagonal(np.linalg.cholesky(S), axis1=1, axis2=2)
        return ldL2, 2.0 * np.log(d[:, :p]).sum(axis=1), d[:, p] ** 2
    except np.linalg.LinAlgError:      # an exact fit (r² = 0) or a rank-deficient X somewhere in the batch
        piv = _cholesky_pivots_batched(S)
    ok = (piv[:, :-1] > 0).all(axis=1)
    ldRX2 = np.full(len(S), math.inf)
    ldRX2[ok] = np.log(piv[ok, :-1]).sum(axis=1)
    return ldL2, ldRX2, np.maximum(piv[:, -1], 0.0)


def _cholesky_pivots(S: list[list[float]]) -> list[float]:
    """Squared diagonal of the Cholesky factor of a small symmetric matrix (a list of rows; overwritten).

    Gaussian elimination on the lower triangle (the pivots of LDL' are the squared diagonal of the
    Cholesky factor), in plain Python: for the (p + 1) × (p + 1) matrix S of a model with a few fixed
    effects this is several times faster than a LAPACK call through numpy.  The last pivot, r², may
    be 0; a non-positive earlier pivot (X rank deficient at this θ) stops the elimination and the
    remaining pivots are reported as 0.
    """
    m = len(S)
    piv = []
    for j in range(m):
        Sj = S[j]
        d = Sj[j]
        piv.append(d)
        if j == m - 1:
            break
        if not d > 0:
            return piv + [0.0] * (m - 1 - j)
        for i in range(j + 1, m):
            Si = S[i]
            f = Si[j] / d
            for k in range(j + 1, i + 1):
                Si[k] -= f * S[k][j]
    return piv


def _cholesky_pivots_batched(S: np.ndarray) -> np.ndarray:
    """:func:`_cholesky_pivots` for a stack (K, m, m), looping over the m columns only."""
    K, m, _ = S.shape
    L = np.zeros_like(S)
    piv = np.empty((K, m))
    for j in range(m):
        d = S[:, j, j] - (L[:, j, :j] ** 2).sum(axis=-1)
        piv[:, j] = d
        if j == m - 1:
            break
        r = np.sqrt(np.where(d > 0, d, np.nan))
        L[:, j, j] = r
        L[:, j + 1:, j] = (S[:, j + 1:, j] - np.einsum("kil,kl->ki", L[:, j + 1:, :j], L[:, j, :j])) / r[:, None]
    return piv
