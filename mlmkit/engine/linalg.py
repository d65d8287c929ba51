"""Penalised least squares for mixed models: the blocked Cholesky factor of lme4's system.

For a given θ, lme4 (Bates et al. 2015, sec. 3) solves

    [ Λ'Z'ZΛ + I   Λ'Z'X ] [u]   [Λ'Z'y]
    [ X'ZΛ         X'X   ] [β] = [X'y  ]

through the Cholesky factor of the augmented matrix with y appended as a last column (the trick
MixedModels.jl uses): the factor's last diagonal element squared is the penalised residual sum of
squares r²(θ), and log|L|² and log|R_X|² are sums over its diagonal.

The random effects are split in two blocks.  Block 1 holds every term on the grouping factor with the
most random effects: Λ'Z'ZΛ + I is block diagonal there (one q₁ × q₁ block per level), so its factor
is a batch of small Cholesky factors computed for all levels at once.  Block 2 holds the remaining
terms (crossed or nested factors); it is eliminated through a dense Schur complement, with the
cross-products between the blocks kept sparse.  A model with a single grouping factor never touches
block 2 and costs a few numpy calls per evaluation, whatever the number of groups.
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ..spec.reterms import REStructure
from .crossed import DenseCross, ScalarCross, cholesky_lower
from .profiled import SmallBlock, schur_parts

__all__ = ["REStructure", "PLSSystem", "PLSFactor", "blas_threads", "profiled_criterion"]


@functools.lru_cache(maxsize=1)
def _blas_controllers() -> tuple:
    """threadpoolctl's controllers of the BLAS libraries loaded (numpy's and scipy's OpenBLAS)."""
    from threadpoolctl import ThreadpoolController
    return tuple(c for c in ThreadpoolController().lib_controllers if c.user_api == "blas")


@contextlib.contextmanager
def blas_threads(structure: "REStructure | None" = None):
    """Context manager limiting BLAS to one thread during a fit.

    The factorisation works on many small matrices, and even its one dense block (a Schur complement
    of ~1,000 random effects for InstEval) ran 15× slower with OpenBLAS's threads than without on a
    busy 2-core machine: thread start-up and contention cost more than the parallel work gains.
    The libraries' own setters are called directly: ``threadpool_limits`` re-inspects every loaded
    library on each use, which costs more than a whole sleepstudy fit.
    """
    ctls = _blas_controllers()
    old = [c.get_num_threads() for c in ctls]
    for c in ctls:
        c.set_num_threads(1)
    try:
        yield
    finally:
        for c, n in zip(ctls, old):
            if n is not None:
                c.set_num_threads(n)


_PARALLEL_BLOCK = 500     # block-2 size from which batches of evaluations run in threads
_DENSE_BLOCK2_LIMIT = 500_000   # q₂² · n₁ · q₁ up to which block 2 is evaluated densely for many θ at once
_STACK_ROWS = 200_000     # rows up to which [X y] is stacked for its cross-product (beyond: column dots)


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def level_sums(codes: np.ndarray, n_levels: int, a: np.ndarray, b, symmetric: bool = False) -> np.ndarray:
    """Σ over the rows of each level of a[:, j] * b[:, k]: shape (n_levels, a.shape[1], len(b's columns)).

    ``b`` is a 2-D array or a list of column vectors (no n × m copy of X and y).  ``symmetric`` (or
    a is b): a Z'WZ with a = WZ, b = Z, so only k ≤ j is summed and mirrored."""
    sym = symmetric or a is b
    b = [b[:, k] for k in range(b.shape[1])] if isinstance(b, np.ndarray) else b
    out = np.empty((n_levels, a.shape[1], len(b)))
    for j in range(a.shape[1]):          # loops over columns only, never over rows or groups
        for k in range(j + 1 if sym else len(b)):
            out[:, j, k] = np.bincount(codes, weights=a[:, j] * b[k], minlength=n_levels)
            if sym:
                out[:, k, j] = out[:, j, k]
    return out


_LOG2PI = math.log(2.0 * math.pi)


def profiled_criterion(ldL2, ldRX2, r2, dof, REML: bool):
    """lme4's profiled criterion from the factor's parts (Bates et al. 2015, eqs. 34 and 41):

        ML:    d(θ)   = log|L_θ|² + n [1 + log(2π r²(θ) / n)]
        REML:  d_R(θ) = log|L_θ|² + log|R_X|² + (n − p) [1 + log(2π r²(θ) / (n − p))]

    ``dof`` is n (ML) or n − p (REML), the count in the profiled σ² = r²/dof.  Scalars give a float
    (math, fast enough for every optimiser step); arrays of parts (one per θ) give an array.  A
    non-positive r² (an exact fit) gives +inf.
    """
    if isinstance(r2, float):
        if not r2 > 0:
            return math.inf
        return (ldL2 + ldRX2 if REML else ldL2) + dof * (1.0 + _LOG2PI + math.log(r2 / dof))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (ldL2 + ldRX2 if REML else ldL2) + dof * (1.0 + _LOG2PI + np.log(r2 / dof))
    return np.where(r2 > 0, out, np.inf)


_HIST_CELLS = 1 << 23     # largest dense level × level table (64 MB) counted directly from the codes


def _unit(z: np.ndarray) -> bool:
    """A column of ones as a broadcast view (a random intercept): its products are plain counts."""
    return z.strides == (0,) and z.size > 0 and z[0] == 1.0


def _table(ca, na: int, cb, nb: int, w) -> np.ndarray:
    """Σ w over the rows with codes (i, j), as a dense na × nb table (one bincount)."""
    key = ca.astype(np.int64) * nb
    key += cb
    return np.bincount(key, weights=w, minlength=na * nb).reshape(na, nb)


def _scalar_products(s: "REStructure", cols: list) -> tuple | None:
    """A₂₂ = Z₂'Z₂ (dense), A₂₁ = Z₂'Z₁ (CSR) and B₂ = Z₂'[X y] of scalar terms straight from the codes
    (bincounts), without Z₁ and Z₂ as sparse matrices and their products' copies: at two million rows
    those held ~100 MB.  None when a level × level table would be too large (sparse products then)."""
    n1, z1 = s.n1, s.z1[:, 0]
    sizes = [t.n_levels for t in s.block2]
    if any(a * b > _HIST_CELLS for a in sizes for b in sizes + [n1]):
        return None
    zs = [t.values[:, 0] for t in s.block2]
    prod = (lambda a, b: None if _unit(a) and _unit(b) else (b if _unit(a) else a if _unit(b) else a * b))
    offs = np.concatenate([[0], np.cumsum(sizes)])
    A22 = np.zeros((offs[-1], offs[-1]))
    A21, B2 = [], []
    for i, t in enumerate(s.block2):
        sl = slice(offs[i], offs[i + 1])
        A22[sl, sl] = np.diag(np.bincount(t.codes, weights=prod(zs[i], zs[i]), minlength=t.n_levels))
        for j in range(i):
            tab = _table(t.codes, t.n_levels, s.block2[j].codes, sizes[j], prod(zs[i], zs[j]))
            A22[sl, offs[j]:offs[j + 1]] = tab
            A22[offs[j]:offs[j + 1], sl] = tab.T
        A21.append(sp.csr_matrix(_table(t.codes, t.n_levels, s.codes1, n1, prod(zs[i], z1))))
        B2.append(np.column_stack([np.bincount(t.codes, weights=prod(zs[i], c), minlength=t.n_levels)
                                   for c in cols]))
    return A22, sp.vstack(A21, format="csr"), np.vstack(B2)


class PLSSystem:
    """Cross-products of Z, X and y, computed once; :meth:`factor` does the work for each θ.

    ``sqrtw`` (optional) are square roots of case weights (PIRLS's working weights in glmer).
    """

    def __init__(self, structure: REStructure, X: np.ndarray, y: np.ndarray, sqrtw: np.ndarray | None = None,
                 *, crossed: bool = False):
        self.structure = s = structure
        self._use_crossed = crossed
        self.p = X.shape[1]
        z1 = s.z1           # unweighted: no n × (p + 1) copy, the columns of X and y as they are
        cols = [X[:, k] for k in range(X.shape[1])] + [np.asarray(y, float)]
        if sqrtw is not None:
            cols = [c * sqrtw for c in cols]
            z1 = z1 * sqrtw[:, None]
        self._z1w = z1
        self.A11 = level_sums(s.codes1, s.n1, z1, z1)          # (n1, q1, q1)
        self.B1 = level_sums(s.codes1, s.n1, z1, cols)       # (n1, q1, p+1)
        # contiguous per-element copies (q1² + q1·m numbers per level) for block1_factor
        self.A_soa = np.ascontiguousarray(self.A11.transpose(1, 2, 0))
        self.B_soa = np.ascontiguousarray(self.B1.transpose(1, 0, 2))
        m = len(cols)
        if sqrtw is not None or X.shape[0] <= _STACK_ROWS:
            Xy = np.empty((X.shape[0], m), order="F")           # one BLAS product (as always up to
            for k, c in enumerate(cols):                         # this size: the same rounding)
                Xy[:, k] = c
            self.XyXy = Xy.T @ Xy
            del Xy
        else:
            self.XyXy = np.array([[np.dot(cols[j], cols[k]) for k in range(m)] for j in range(m)])
        self.nobs = X.shape[0]
        products = _scalar_products(s, cols) if s.q2 and sqrtw is None and s.all_scalar else None
        if products is not None:
            self.A22, self.A21, self.B2 = products
            self.A12 = self.A21.T.tocsr()
        elif s.q2:
            Z2 = s.Z2 if sqrtw is None else sp.diags(sqrtw) @ s.Z2
            Z1 = s.Z1 if sqrtw is None else sp.diags(sqrtw) @ s.Z1
            self.A22 = (Z2.T @ Z2).toarray()        # dense: the Schur complement fills it in anyway
            self.A21 = (Z2.T @ Z1).tocsr()
            self.A12 = self.A21.T.tocsr()
            Z2t = Z2.T.tocsr()
            self.B2 = np.column_stack([Z2t @ c for c in cols])

    @cached_property
    def crossed(self):
        """The pair incidence of :mod:`mlmkit.engine.crossed` for all-scalar crossed/nested models, or None.

        Built only for systems created with ``crossed=True`` (an lmer deviance function, evaluated
        many times); the one-off systems of PIRLS iterations use the sparse products instead.
        """
        s = self.structure
        if not (self._use_crossed and s.q2 and s.all_scalar):
            return None
        return ScalarCross.build(self.A21) or DenseCross.build(self.A21)

    @cached_property
    def small_block(self):
        """The closed-form evaluator for one grouping factor with q₁ ≤ 2 (:mod:`mlmkit.engine.profiled`), or None."""
        s = self.structure
        if s.q2 or s.q1 > 2:
            return None
        return SmallBlock(self.A11, self.B1, self.XyXy, s.codes1, self._z1w, s.lam1_index)

    def profiled_parts(self, theta: np.ndarray) -> tuple[float, float, float]:
        """(log|L|², log|R_X|², r²) at θ: all the profiled criterion needs, computed with least overhead.

        One grouping factor with one or two effects per level (most models taught) takes the closed
        form of :mod:`mlmkit.engine.profiled`; otherwise :meth:`factor` runs.
        """
        sb = self.small_block
        if sb is not None:
            return sb.parts(theta)
        f = self.factor(theta)
        return f.ldL2, f.ldRX2, f.r2

    def profiled_parts_many(self, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`profiled_parts` at each row of ``thetas``: one vectorised pass (:meth:`schur_many`) when
        :meth:`batched`, else θ by θ (in threads for a large block 2)."""
        thetas = np.atleast_2d(thetas)
        if self.batched(self.structure):
            return schur_parts(*self.schur_many(thetas))
        workers = min(len(thetas), _cpu_count()) if self.structure.q2 >= _PARALLEL_BLOCK else 1
        if workers > 1:
            # A large dense block spends its time in LAPACK, which releases the GIL: independent
            # evaluations (the convergence check's finite differences) then run side by side.
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(workers) as pool:
                rows = list(pool.map(self.profiled_parts, thetas))
        else:
            rows = [self.profiled_parts(t) for t in thetas]
        parts = np.array(rows, float).reshape(-1, 3)
        return parts[:, 0], parts[:, 1], parts[:, 2]

    @staticmethod
    def batched(s: REStructure) -> bool:
        """Whether :meth:`schur_many` evaluates many θ in one pass: no block 2, or a small one
        (q₂² · n₁ · q₁ ≤ 500,000: Penicillin, Pastes); a large one (InstEval) goes θ by θ."""
        return not s.q2 or s.q2 ** 2 * s.n1 * s.q1 <= _DENSE_BLOCK2_LIMIT

    def schur_many(self, thetas: np.ndarray, batched: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(log|L|² (K,), S (K, m, m)) at each row of ``thetas``, with S = [X y]'[X y] − R'R the
        Schur complement holding β̂ and r²: the closed form for one factor with q₁ ≤ 2,
        :func:`block1_factor` and a dense block 2 (:meth:`_block2_many`) when :meth:`batched`,
        else :meth:`factor` θ by θ."""
        thetas = np.atleast_2d(np.asarray(thetas, float))
        if not (self.batched(self.structure) if batched is None else batched):
            fs = [self.factor(t) for t in thetas]
            return np.array([f.ldL2 for f in fs]), np.stack([f.Lxx @ f.Lxx.T for f in fs])
        if self.small_block is not None:
            return self.small_block.schur_many(thetas)
        lam = np.concatenate([thetas, np.zeros((len(thetas), 1))], axis=1)[:, self.structure.lam1_index]
        half_ld, L, R, S = block1_factor(lam, self.A_soa, self.B_soa)       # Λ₁ (K, q1, q1) at each θ
        S = self.XyXy - S
        if self.structure.q2:
            ld2, R2 = self._block2_many(thetas, lam, L, R)
            half_ld = half_ld + ld2
            S -= np.swapaxes(R2, 1, 2) @ R2
        return 2.0 * half_ld, S

    @cached_property
    def _A21_dense(self) -> np.ndarray:
        """Z₂'Z₁ as a dense (q2, n1, q1) array for :meth:`_block2_many` (small block 2 only)."""
        s = self.structure
        return self.A21.toarray().reshape(s.q2, s.n1, s.q1)

    def _block2_many(self, th, lam, L, R):
        """½ log|L₂₂|² and R₂ of a small block 2 at K values of θ, with G = Λ₁L₁⁻ᵀ and T = A₂₁G per level:

            L₂₂ = chol(Λ₂'(A₂₂ − Σ_g T_gT_g')Λ₂ + I),   R₂ = L₂₂⁻¹Λ₂'(B₂ − Σ_g T_gR_g).
        """
        s = self.structure
        K = lam.shape[0]
        G = np.einsum("kab,kgcb->kgac", lam, inv_lower_batched(L))             # Λ₁ L⁻ᵀ per level
        T = np.einsum("agi,kgij->kagj", self._A21_dense, G)                                 # (K, q2, n1, q)
        P = self.A22[None] - np.einsum("kagj,kbgj->kab", T, T)
        rhs0 = self.B2[None] - np.einsum("kagj,kgjp->kap", T, R)
        lam2 = np.zeros((K, s.q2, s.q2))
        lam2[:, s.lam2_rows, s.lam2_cols] = th[:, s.lam2_theta]
        lam2T = np.swapaxes(lam2, 1, 2)
        L22 = np.linalg.cholesky(lam2T @ P @ lam2 + np.eye(s.q2))
        R2 = np.linalg.solve(L22, lam2T @ rhs0)
        return np.log(np.diagonal(L22, axis1=1, axis2=2)).sum(axis=1), R2

    def factor(self, theta: np.ndarray) -> "PLSFactor":
        """Blocked Cholesky factorisation at θ (see the module docstring)."""
        s = self.structure
        theta = np.asarray(theta, float)
        lam1 = s.lambda1(theta)
        q1 = s.q1
        _, L1, R1, RtR = block1_factor(lam1[None], self.A_soa, self.B_soa)
        L1, R1 = L1[0], R1[0]
        S = self.XyXy - RtR[0]
        L22 = R2 = lam2 = None
        if s.q2 and self.crossed is not None:
            # All-scalar terms: the reduced matrix from the precomputed pairs (mlmkit.engine.crossed).
            lam2 = s.lambda2(theta)
            d2 = theta[s.lam2_theta]
            c = (lam1[0, 0] / L1[:, 0, 0]) ** 2                      # λ₁²/m_i
            L22 = cholesky_lower(self.crossed.reduced_matrix(self.A22, c, d2))
            rhs = d2[:, None] * (self.B2 - self.A21 @ (c[:, None] * self.B1[:, 0, :]))
            R2 = scipy.linalg.solve_triangular(L22, rhs, lower=True, check_finite=False)
            S = S - R2.T @ R2
        elif s.q2:
            # Block 2 through its Schur complement.  With K_i = Λ₁M_i⁻¹Λ₁' per level of factor 1,
            # L₂₁L₂₁' = Λ₂'(A₂₁ K A₁₂)Λ₂ and L₂₁R₁ = Λ₂'A₂₁ K B₁, so L₂₁ itself is never formed.
            lam2 = s.lambda2(theta)
            LL = inv_lower_batched(L1) @ lam1.T
            K = np.swapaxes(LL, 1, 2) @ LL
            Kbd = sp.bsr_matrix((K, np.arange(s.n1), np.arange(s.n1 + 1)), shape=(s.n1 * q1, s.n1 * q1))
            AK = (self.A21 @ Kbd).tocsr()
            P = self.A22 - (AK @ self.A12).toarray()
            M22 = _congruence(lam2, P)
            M22[np.diag_indices_from(M22)] += 1.0
            L22 = cholesky_lower(M22)
            rhs = lam2.T @ (self.B2 - AK @ self.B1.reshape(s.n1 * q1, -1))
            R2 = scipy.linalg.solve_triangular(L22, rhs, lower=True, check_finite=False)
            S = S - R2.T @ R2
        Lxx = _chol_psd(S)
        return PLSFactor(self, theta, lam1, L1, R1, lam2, L22, R2, Lxx)


def block1_factor(lam: np.ndarray, A: np.ndarray, B: np.ndarray):
    """Block 1 at K values of θ at once: for each Λ = lam[k] (K, q, q) and level i of the first factor,

        L_ki = chol(Λ'A_iΛ + I),   R_ki = L_ki⁻¹Λ'B_i,   ½log|L_k|² = Σ_i Σ_j log (L_ki)_jj,

    written as elementwise arithmetic over (K, n1) arrays.  ``A`` (q, q, n1) and ``B`` (q, n1, m) hold
    Z_i'Z_i and Z_i'[X y] element by element, so every step of the column recurrence is one
    vectorised operation on all levels and all θ: numpy's batched LAPACK calls on 10,000 2 × 2
    matrices cost 50× more.  Entries of Λ that are zero at every θ are skipped (adding 0·x changes
    nothing).  Returns ½log|L|² (K,), L (K, n1, q, q), R (K, n1, q, m) and Σ_i R_ki'R_ki (K, m, m).
    This is the one block-1 factorisation of lmer (one θ, K = 1), profiles, bootstrap and power (many θ).
    """
    K, q, n1 = lam.shape[0], lam.shape[1], A.shape[-1]
    used = (lam != 0.0).any(axis=0).tolist()
    if K == 1:          # one θ (every lmer evaluation): Python floats times (n1,) arrays, least overhead
        lk, lb, shape = lam[0].tolist(), lam[0].tolist(), (n1,)
    else:               # (K, 1) and (K, 1, 1) columns broadcasting against (n1,) and (n1, m)
        lk = [[lam[:, a, b, None] for b in range(q)] for a in range(q)]
        lb, shape = [[c[..., None] for c in row] for row in lk], (K, n1)
    zero = np.zeros(shape)
    T = [[sum((A[k, l] * lk[l][j] for l in range(q) if used[l][j]), zero) for j in range(q)] for k in range(q)]
    L = [[None] * q for _ in range(q)]
    for j in range(q):
        mjj = sum((lk[k][j] * T[k][j] for k in range(q) if used[k][j]), zero) + 1.0
        L[j][j] = np.sqrt(mjj - sum((L[j][k] ** 2 for k in range(j)), zero))
        for i in range(j + 1, q):
            mij = sum((lk[k][i] * T[k][j] for k in range(q) if used[k][i]), zero)
            L[i][j] = (mij - sum((L[i][k] * L[j][k] for k in range(j)), zero)) / L[j][j]
    R = []
    for j in range(q):
        v = sum((lb[k][j] * B[k] for k in range(q) if used[k][j]), np.zeros(shape + B.shape[-1:]))
        for k in range(j):
            v = v - L[j][k][..., None] * R[k]
        R.append(v / L[j][j][..., None])
    L1 = np.zeros((K, n1, q, q))
    half_ld = np.zeros(K)
    for j in range(q):
        half_ld += np.log(L[j][j]).sum(axis=-1)
        for i in range(j, q):
            L1[:, :, i, j] = L[i][j]
    if K == 1:
        return half_ld, L1, np.stack(R, axis=1)[None], sum(r.T @ r for r in R)[None]
    return half_ld, L1, np.stack(R, axis=2), sum(np.swapaxes(r, 1, 2) @ r for r in R)


def _congruence(lam: sp.spmatrix, P: np.ndarray) -> np.ndarray:
    """Λ'PΛ for a sparse lower-triangular Λ; elementwise scaling when Λ is diagonal (scalar terms)."""
    if lam.nnz == lam.shape[0] and np.array_equal(lam.indices, np.arange(lam.shape[0])):
        d = lam.data
        return d[:, None] * P * d[None, :]
    return np.asarray(lam.T @ np.asarray(lam.T @ P).T).T


def chol_penalised(lam: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Per-level factors L_i = chol(Λ'A_iΛ + I) of a stack A (..., q, q) (a weighted Z_i'W_iZ_i per
    level), with Λ (q, q) or a stack broadcasting against A: the block-1 factor of PIRLS steps.

    Elementwise for q = 1 (L_i = √(λ²a_i + 1)).  For q ≤ 6 the column recurrence runs over q only,
    each step one vectorised operation on all matrices, far cheaper than LAPACK called once per
    matrix when there are many; a matrix that is not positive definite gives NaN rather than an
    exception, which PIRLS turns into a step-halving.
    """
    q = A.shape[-1]
    if q == 1:
        return np.sqrt(lam[..., :1, :1] ** 2 * A + 1.0)
    M = np.matmul(np.matmul(np.swapaxes(lam, -1, -2), A), lam)
    M[..., np.arange(q), np.arange(q)] += 1.0
    if q > 6:
        return np.linalg.cholesky(M)
    L = np.zeros_like(M)
    for j in range(q):
        d = M[..., j, j] - (L[..., j, :j] ** 2).sum(axis=-1)
        L[..., j, j] = np.sqrt(d)
        for i in range(j + 1, q):
            L[..., i, j] = (M[..., i, j] - (L[..., i, :j] * L[..., j, :j]).sum(axis=-1)) / L[..., j, j]
    return L


def logdet_batched(L: np.ndarray) -> float:
    """log|LL'| = 2 Σ log diag(L) over a stack (..., q, q) of lower-triangular factors."""
    return float(2.0 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum())


def inv_lower_batched(L: np.ndarray) -> np.ndarray:
    """L⁻¹ for a stack (..., q, q) of lower-triangular matrices, by forward substitution on the
    identity, one vectorised operation per element (no LAPACK call per matrix):
    (L⁻¹)_jj = 1/L_jj,  (L⁻¹)_ij = −Σ_{j≤k<i} L_ik (L⁻¹)_kj / L_ii."""
    q = L.shape[-1]
    Linv = np.zeros_like(L)
    for j in range(q):
        Linv[..., j, j] = 1.0 / L[..., j, j]
        for i in range(j + 1, q):
            Linv[..., i, j] = -(L[..., i, j:i] * Linv[..., j:i, j]).sum(axis=-1) / L[..., i, i]
    return Linv


def forward_solve_batched(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve L X = B per level: L (n, q, q) lower triangular, B (n, q) or (n, q, m)."""
    q = L.shape[-1]
    if q == 1:
        return B / (L[:, :, 0] if B.ndim == 2 else L)
    if q > 6:
        return np.linalg.solve(L, B[..., None])[..., 0] if B.ndim == 2 else np.linalg.solve(L, B)
    X = np.empty(B.shape)
    for i in range(q):
        acc = B[:, i] - (np.einsum("nk,nk...->n...", L[:, i, :i], X[:, :i]) if i else 0.0)
        X[:, i] = acc / (L[:, i, i] if B.ndim == 2 else L[:, i, i][:, None])
    return X


def backward_solve_batched(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve L' x = b per level: L (n, q, q) lower triangular, b (n, q)."""
    q = L.shape[-1]
    if q == 1:
        return b / L[:, :, 0]
    if q > 6:
        return np.linalg.solve(np.swapaxes(L, 1, 2), b[..., None])[..., 0]
    x = np.empty(b.shape)
    for i in range(q - 1, -1, -1):
        x[:, i] = (b[:, i] - (L[:, i + 1:, i] * x[:, i + 1:]).sum(axis=-1)) / L[:, i, i]
    return x


def _chol_psd(S: np.ndarray) -> np.ndarray:
    """Cholesky of the (p+1) × (p+1) Schur complement; a zero residual gives a zero last pivot."""
    try:
        return np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        p = S.shape[0] - 1
        L = np.zeros_like(S)
        L[:p, :p] = np.linalg.cholesky(S[:p, :p])
        L[p, :p] = scipy.linalg.solve_triangular(L[:p, :p], S[:p, p], lower=True)
        L[p, p] = np.sqrt(max(S[p, p] - L[p, :p] @ L[p, :p], 0.0))
        return L


@dataclass(frozen=True, eq=False)
class PLSFactor:
    """The factorisation at one θ, with the quantities of the profiled deviance and the solutions."""

    system: PLSSystem
    theta: np.ndarray
    lam1: np.ndarray
    L1: np.ndarray
    R1: np.ndarray
    lam2: sp.csc_matrix | None
    L22: np.ndarray | None
    R2: np.ndarray | None
    Lxx: np.ndarray

    @cached_property
    def ldL2(self) -> float:
        """log |Λ'Z'ZΛ + I| = 2 Σ log diag(L)."""
        return logdet_batched(self.L1) + (0.0 if self.L22 is None else logdet_batched(self.L22))

    @property
    def p(self) -> int:
        return self.system.p

    @cached_property
    def ldRX2(self) -> float:
        """log |R_X|² = 2 Σ log diag(R_X)."""
        return 2.0 * np.log(np.diag(self.Lxx)[: self.p]).sum()

    @cached_property
    def r2(self) -> float:
        """Penalised residual sum of squares ‖y − Xβ̂ − ZΛû‖² + ‖û‖²."""
        return float(self.Lxx[-1, -1] ** 2)

    @cached_property
    def beta(self) -> np.ndarray:
        p = self.p
        return np.linalg.solve(self.Lxx[:p, :p].T, self.Lxx[p, :p]) if p else np.empty(0)

    def u(self, beta: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Spherical random effects û = L⁻ᵀ(c − R_ZX β) for block 1 (n1, q1) and block 2 (q2,)."""
        beta = self.beta if beta is None else np.asarray(beta, float)
        p = self.p
        u2 = None
        rhs1 = self.R1[..., p] - self.R1[..., :p] @ beta
        if self.L22 is not None:
            rhs2 = self.R2[:, p] - self.R2[:, :p] @ beta
            u2 = scipy.linalg.solve_triangular(self.L22.T, rhs2, lower=False)
            # L₂₁'u₂ = L₁⁻¹Λ₁'(A₁₂Λ₂u₂), level by level
            v = (self.system.A12 @ (self.lam2 @ u2)).reshape(rhs1.shape)
            rhs1 = rhs1 - forward_solve_batched(self.L1, (v @ self.lam1)[..., None])[..., 0]
        u1 = backward_solve_batched(self.L1, rhs1)
        return u1, u2

    def b(self, beta: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Random effects on the data scale, b = Λû."""
        u1, u2 = self.u(beta)
        b1 = u1 @ self.lam1.T
        b2 = None if u2 is None else self.lam2 @ u2
        return b1, b2

    @cached_property
    def vcov_unscaled(self) -> np.ndarray:
        """(R_X'R_X)⁻¹: multiply by σ² for Var(β̂)."""
        p = self.p
        Linv = np.linalg.inv(self.Lxx[:p, :p]) if p else np.empty((0, 0))
        return Linv.T @ Linv
