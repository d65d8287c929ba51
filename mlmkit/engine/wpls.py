"""Weighted penalised least squares for PIRLS: the linear algebra of one glmer iteration.

For θ, working weights w and a working response z, PIRLS needs the solution of

    min over u (and β)   ‖√w (z − Xβ − ZΛu)‖² + ‖u‖²

and log|Λ'Z'WZΛ + I|.  :class:`WeightedPLS` recomputes the cross-products for new weights on every
step with a handful of ``bincount`` calls: block 1 (the grouping factor with the most random effects,
:class:`mlmkit.spec.reterms.REStructure`) stays a batch of q₁ × q₁ blocks, the other terms (block 2) form a
dense Schur complement coupled to block 1 through a dense or sparse Z₂'WZ₁.  :class:`DensePLS` does
the same with dense arrays for small models, where numpy's per-call overhead dominates.  Designs too
large for a dense block 2 fall back on :class:`mlmkit.engine.linalg.PLSSystem`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.linalg.lapack
import scipy.sparse as sp

from ..spec.design import Design
from .crossed import cholesky_lower
from .linalg import PLSSystem, chol_penalised, inv_lower_batched, level_sums, logdet_batched
from .linalg import backward_solve_batched as bsolve_small
from .linalg import forward_solve_batched as fsolve_small

_dpotrf, _dpotrs = scipy.linalg.lapack.dpotrf, scipy.linalg.lapack.dpotrs

__all__ = ["PLSSolution", "WeightedPLS", "DensePLS", "make_pls"]

_DENSE_LIMIT = 4_000_000        # largest q2² (or q2 · n1 · q1) kept as a dense array


@dataclass(frozen=True)
class PLSSolution:
    """One weighted PLS solve: new u (and β in stage 1), log|L|² and the pieces AGQ and vcov need."""

    u1: np.ndarray                 # (n1, q1)
    u2: np.ndarray | None          # (q2,)
    beta: np.ndarray | None        # (p,) when solved jointly
    ldL2: float
    L1: np.ndarray | None          # (n1, q1, q1) block-1 Cholesky factors (None from DensePLS)
    RX: np.ndarray | None          # (p, p) lower Cholesky factor of the β Schur complement


class WeightedPLS:
    """Penalised weighted least squares for changing weights: min ‖√w (z − Xβ − ZΛu)‖² + ‖u‖².

    The index structure of Z (block 1: level codes and columns; block 2: one (column index, value)
    pair of arrays per column of each term) is built once; :meth:`solve` does the rest.  The
    coupling Z₂'WZ₁ is kept dense when most of its entries are used (fully crossed factors such as
    subjects × items) and sparse otherwise (nested or partly crossed factors); Λ₂ is a vector when
    every block-2 term is scalar.
    """

    def __init__(self, design: Design):
        s = design.structure
        self.structure = s
        self.n1, self.q1, self.q2 = s.n1, s.q1, s.q2
        self.codes1, self.z1 = s.codes1, s.z1
        self.z1col = s.z1[:, 0] if s.q1 == 1 else None
        cols, vals = [], []
        for t, (block, off) in zip(design.terms, s.term_slices):
            if block == 2:
                for j in range(t.q):
                    cols.append(off + t.codes.astype(np.int64) * t.q + j)   # products below exceed int32
                    vals.append(t.values[:, j])
        self.cols2, self.vals2 = cols, vals
        n1q1 = self.n1 * self.q1
        self.pair2 = {(i, j): cols[i] * self.q2 + cols[j] for i in range(len(cols)) for j in range(i + 1)}
        self.dense = self.q2 == 0 or self.q2 ** 2 <= _DENSE_LIMIT
        self._lam2_pattern = (s.lam2_rows, s.lam2_cols, s.lam2_theta)
        self.lam2_diagonal = bool(self.q2) and bool(np.all(s.lam2_rows == s.lam2_cols))
        if self.q2:
            # nonzero pattern of Z₂'WZ₁ (q2 × n1q1): one bincount over the used (row, column) pairs
            codes = np.concatenate([c * n1q1 + self.codes1 * self.q1 + m for c in cols for m in range(self.q1)])
            nz, self._a21_inv = np.unique(codes, return_inverse=True)
            self._a21_nz = nz
            self.sparse21 = nz.size < 0.25 * self.q2 * n1q1 or self.q2 * n1q1 > _DENSE_LIMIT
            rows, colidx = nz // n1q1, nz % n1q1
            self._a21_rows, self._a21_cols = rows, colidx
            self._a21_indptr = np.searchsorted(rows, np.arange(self.q2 + 1))

    def lambdas(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Λ₁ (q1 × q1) and Λ₂ at θ: its diagonal (q2,) when diagonal, else dense (q2, q2); None without block 2."""
        lam1, lam2 = self.structure.lambda1(theta), None
        if self.q2:
            r, c, k = self._lam2_pattern
            if self.lam2_diagonal:
                lam2 = np.zeros(self.q2)
                lam2[r] = theta[k]
            else:
                lam2 = np.zeros((self.q2, self.q2))
                lam2[r, c] = theta[k]
        return lam1, lam2

    @staticmethod
    def lam2_times(lam2: np.ndarray, v: np.ndarray, transpose: bool = False) -> np.ndarray:
        """Λ₂ v (or Λ₂' v) for v of shape (q2,) or (q2, m)."""
        if lam2.ndim == 1:
            return lam2 * v if v.ndim == 1 else lam2[:, None] * v
        return (lam2.T if transpose else lam2) @ v

    def Zb(self, lams, u1: np.ndarray, u2: np.ndarray | None) -> np.ndarray:
        """Z Λ u for spherical effects u1 (n1, q1), u2 (q2,) in the two-block layout."""
        lam1, lam2 = lams
        if self.q1 == 1:
            out = (lam1[0, 0] * self.z1col) * u1[self.codes1, 0]
        else:
            out = np.einsum("ij,ij->i", self.z1, (u1 @ lam1.T)[self.codes1])
        if u2 is not None:
            b2 = self.lam2_times(lam2, u2)
            for c, v in zip(self.cols2, self.vals2):
                out = out + v * b2[c]
        return out

    def _factor(self, lams, w: np.ndarray):
        """Cholesky factor of Λ'Z'WZΛ + I: block-1 factors L1, and for block 2 the coupling C and L22.

        C = Λ₂'Z₂'WZ₁Λ₁L₁⁻ᵀ (q2 × n1q1, dense or sparse) and L22 = chol(Λ₂'Z₂'WZ₂Λ₂ + I − CC').
        """
        n1, q1, q2, codes = self.n1, self.q1, self.q2, self.codes1
        lam1, lam2 = lams
        z1w = self.z1 * w[:, None]
        L1 = chol_penalised(lam1, level_sums(codes, n1, z1w, self.z1, symmetric=True))
        ldL2 = logdet_batched(L1)
        wv = C = L22 = None
        if q2:
            wv = [w * v for v in self.vals2]
            A22 = np.zeros(q2 * q2)
            for (i, j), code in self.pair2.items():
                part = np.bincount(code, wv[i] * self.vals2[j], minlength=q2 * q2)
                A22 += part
                if i != j:
                    A22 += part.reshape(q2, q2).T.ravel()
            A22 = A22.reshape(q2, q2)
            vals = np.bincount(self._a21_inv, np.concatenate([wvi * self.z1[:, m] for wvi in wv for m in range(q1)]),
                               minlength=self._a21_nz.size)
            # W = Λ₁L₁⁻ᵀ per level: the coupling is C = Λ₂' A₂₁ blockdiag(W)
            W = (lam1[0, 0] / L1[:, 0, 0]) if q1 == 1 else lam1 @ np.swapaxes(inv_lower_batched(L1), 1, 2)
            if self.sparse21:
                if q1 == 1:
                    data = vals * W[self._a21_cols]
                    if lam2.ndim == 1:
                        data = data * lam2[self._a21_rows]
                    C = sp.csr_matrix((data, self._a21_cols, self._a21_indptr), shape=(q2, n1))
                else:
                    A21 = sp.csr_matrix((vals, self._a21_cols, self._a21_indptr), shape=(q2, n1 * q1))
                    C = A21 @ sp.bsr_matrix((W, np.arange(n1), np.arange(n1 + 1)), shape=(n1 * q1, n1 * q1))
                    if lam2.ndim == 1:
                        C = sp.diags(lam2) @ C
                if lam2.ndim == 2:
                    C = sp.csr_matrix(lam2.T) @ C
                C = sp.csr_matrix(C)
                CCt = (C @ C.T).toarray()
            else:
                A21 = np.zeros(q2 * n1 * q1)
                A21[self._a21_nz] = vals
                if q1 == 1:
                    C = A21.reshape(q2, n1) * W
                else:
                    C = np.einsum("gnk,nkj->gnj", A21.reshape(q2, n1, q1), W).reshape(q2, n1 * q1)
                C = self.lam2_times(lam2, C, transpose=True)
                CCt = C @ C.T
            if lam2.ndim == 1:
                M22 = lam2[:, None] * A22 * lam2[None, :] - CCt
            else:
                M22 = lam2.T @ A22 @ lam2 - CCt
            M22[np.diag_indices(q2)] += 1.0
            L22 = cholesky_lower(M22)
            ldL2 += logdet_batched(L22)
        return L1, z1w, wv, C, L22, float(ldL2)

    def logdet(self, theta: np.ndarray, lams, w: np.ndarray) -> tuple[float, np.ndarray]:
        """log|Λ'Z'WZΛ + I| and the block-1 factors, without solving for u."""
        if not self.dense:
            f = PLSSystem(self.structure, np.empty((len(w), 0)), np.zeros(len(w)), np.sqrt(w)).factor(theta)
            return float(f.ldL2), f.L1
        L1, _, _, _, _, ldL2 = self._factor(lams, w)
        return ldL2, L1

    def solve(self, theta: np.ndarray, lams, w: np.ndarray, z: np.ndarray, X: np.ndarray | None = None
              ) -> PLSSolution:
        """Solve for u (X None: β fixed and already subtracted from z) or jointly for (β, u)."""
        if not self.dense:
            return self._solve_sparse(theta, w, z, X)
        n1, q1, q2, codes = self.n1, self.q1, self.q2, self.codes1
        lam1, lam2 = lams
        p = 0 if X is None else X.shape[1]
        L1, z1w, wv, C, L22, ldL2 = self._factor(lams, w)
        if q1 == 1:
            Ld = L1[:, 0, 0]
            r1 = (lam1[0, 0] * np.bincount(codes, z1w[:, 0] * z, minlength=n1) / Ld)[:, None]
            if p:
                RZX1 = level_sums(codes, n1, z1w, X) * (lam1[0, 0] / Ld)[:, None, None]
        else:
            c1 = level_sums(codes, n1, z1w, z[:, None])[:, :, 0]
            r1 = fsolve_small(L1, c1 @ lam1)                                              # (n1, q1)
            if p:
                B1 = level_sums(codes, n1, z1w, X)
                RZX1 = fsolve_small(L1, lam1.T @ B1)                                      # (n1, q1, p)
        if q2:
            c2 = sum(np.bincount(c, wvi * z, minlength=q2) for c, wvi in zip(self.cols2, wv))
            r2 = scipy.linalg.solve_triangular(L22, self.lam2_times(lam2, c2, True) - C @ r1.ravel(), lower=True,
                                               check_finite=False)
            if p:
                B2 = sum(level_sums(c, q2, wvi[:, None], X)[:, 0] for c, wvi in zip(self.cols2, wv))
                RZX2 = scipy.linalg.solve_triangular(L22, self.lam2_times(lam2, B2, True) - C @ RZX1.reshape(n1 * q1, p),
                                                     lower=True, check_finite=False)
        beta = RX = None
        if p:
            wX = X * w[:, None]
            R1f = RZX1.reshape(n1 * q1, p)
            S = X.T @ wX - R1f.T @ R1f
            cX = wX.T @ z - R1f.T @ r1.ravel()
            if q2:
                S -= RZX2.T @ RZX2
                cX -= RZX2.T @ r2
            RX = np.linalg.cholesky(S)
            beta = scipy.linalg.cho_solve((RX, True), cX, check_finite=False)
            r1 = r1 - RZX1 @ beta
            if q2:
                r2 = r2 - RZX2 @ beta
        u2 = None
        if q2:
            u2 = scipy.linalg.solve_triangular(L22.T, r2, lower=False, check_finite=False)
            r1 = r1 - np.asarray(C.T @ u2).reshape(n1, q1)
        u1 = r1 / L1[:, :, 0] if q1 == 1 else bsolve_small(L1, r1)
        return PLSSolution(u1, u2, beta, ldL2, L1, RX)

    def _solve_sparse(self, theta, w, z, X) -> PLSSolution:
        """Large crossed designs: lmer's sparse-aware factorisation with the weights applied."""
        p = 0 if X is None else X.shape[1]
        Xm = np.empty((len(z), 0)) if X is None else X
        f = PLSSystem(self.structure, Xm, z, np.sqrt(w)).factor(theta)
        beta = f.beta if p else None
        u1, u2 = f.u(beta if p else np.empty(0))
        return PLSSolution(u1, u2, beta, float(f.ldL2), f.L1, f.Lxx[:p, :p] if p else None)


class DensePLS(WeightedPLS):
    """The same solver for small models with dense arrays: ZΛ (n × q) is formed once per θ and each
    PIRLS step is one weighted cross-product and one Cholesky factorisation of a (q + p) square
    matrix.  For the models of a course (q up to a few hundred, n·q² up to a few million) this
    needs a tenth of the numpy calls of the blocked solver, and numpy's per-call overhead is what
    dominates at that size.
    """

    LIMIT = 3_000_000           # n · q² of the largest model solved densely

    @classmethod
    def suitable(cls, design: Design) -> bool:
        """Small enough, and not a single scalar term (which the blocked solver does elementwise)."""
        s = design.structure
        q = s.n1 * s.q1 + s.q2
        return (s.q1 > 1 or s.q2 > 0) and design.nobs * q * q <= cls.LIMIT and q <= 1500

    def __init__(self, design: Design):
        super().__init__(design)
        s = self.structure
        Z = s.Z1.toarray()
        self._Z1 = Z.reshape(len(Z), self.n1, self.q1)
        self._Z2 = None if not s.q2 else s.Z2.toarray()
        self.q = self.n1 * self.q1 + self.q2
        self._diag = np.arange(self.q)
        self._cache = {}

    def _ZL(self, lams, X):
        """ZΛ, or [ZΛ, X] when X is given, for the current θ (cached: every PIRLS step of a call
        uses the same Λ)."""
        if self._cache.get("lams") is not lams:
            lam1, lam2 = lams
            parts = [(self._Z1 @ lam1).reshape(len(self._Z1), -1)]
            if self._Z2 is not None:
                parts.append(self._Z2 * lam2 if lam2.ndim == 1 else self._Z2 @ lam2)
            self._cache = {"lams": lams, "ZL": np.hstack(parts) if len(parts) > 1 else parts[0]}
        if X is None:
            return self._cache["ZL"]
        if "ZLX" not in self._cache:
            self._cache["ZLX"] = np.hstack([self._cache["ZL"], X])
        return self._cache["ZLX"]

    def Zb(self, lams, u1, u2):
        u = u1.ravel() if u2 is None else np.concatenate([u1.ravel(), u2])
        return self._ZL(lams, None) @ u

    def _chol(self, lams, w, X):
        A = self._ZL(lams, X)
        M = A.T @ (A * w[:, None])
        M[self._diag, self._diag] += 1.0
        L, info = _dpotrf(M, lower=1, clean=1, overwrite_a=1)     # LAPACK directly: small matrices
        if info:
            raise np.linalg.LinAlgError("the weighted least-squares matrix is not positive definite")
        return A, L

    def logdet(self, theta, lams, w):
        _, L = self._chol(lams, w, None)
        return float(2.0 * np.log(np.diagonal(L)).sum()), None

    def solve(self, theta, lams, w, z, X=None) -> PLSSolution:
        """As :meth:`WeightedPLS.solve`; the block-1 factors (only AGQ needs them, and AGQ's single
        scalar term never uses this solver) are not extracted."""
        A, L = self._chol(lams, w, X)
        sol, _ = _dpotrs(L, A.T @ (w * z), lower=1)
        q, n1, q1 = self.q, self.n1, self.q1
        ldL2 = float(2.0 * np.log(np.diagonal(L)[:q]).sum())
        u1 = sol[:n1 * q1].reshape(n1, q1)
        u2 = sol[n1 * q1:q] if self.q2 else None
        beta = sol[q:] if X is not None else None
        RX = L[q:, q:] if X is not None else None
        return PLSSolution(u1, u2, beta, ldL2, None, RX)


def make_pls(design: Design) -> WeightedPLS:
    """The solver for a design: dense for small models with more than one scalar term, else blocked."""
    return DensePLS(design) if DensePLS.suitable(design) else WeightedPLS(design)
