"""PIRLS and the Laplace / adaptive Gauss-Hermite deviance of a GLMM (lme4's ``glmerLaplace``, ``glmerAGQ``).

For given θ (and β), the conditional mode ũ of the spherical random effects maximises
p(y | u) p(u); penalised iteratively reweighted least squares (PIRLS) finds it by repeating

    w = wt · (dμ/dη)² / V(μ),   z = η − offset − Xβ + (y − μ) / (dμ/dη)
    u ← argmin ‖√w (z − ZΛu)‖² + ‖u‖²       (with β as well: "stage 1", lme4's nAGQ = 0)

with step halving whenever the penalised deviance Σ dᵢ + ‖u‖² rises.  At the mode, with L the
Cholesky factor of Λ'Z'WZΛ + I (weights at ũ), lme4's objectives are (Bates et al., glmer vignette):

    Laplace (nAGQ = 1):  ldL2 + ‖ũ‖² − 2 Σ log p(yᵢ | ũ)              (full density: binomial coefficient)
    AGQ (nAGQ = K > 1):  Σⱼ devc0ⱼ + ldL2 − 2 Σⱼ log Σₖ wₖ exp(−½ [devcⱼ(ũⱼ + zₖ/Lⱼⱼ) − devc0ⱼ] + zₖ²/2)

where devcⱼ(u) = uⱼ² + Σ_{i in group j} dᵢ(u) (unit deviances) and (zₖ, wₖ) is the K-point
Gauss-Hermite rule for N(0, 1).  The AGQ value omits the density constants, as lme4's does, so its
log-likelihood is on a different scale from the Laplace one (e.g. cbpp: −92.03 against −50.01).

:class:`WeightedPLS` solves the weighted penalised least-squares step.  Unlike
:class:`mlmkit.linalg.PLSSystem`, which precomputes cross-products once for lmer, it recomputes them
for new weights on every PIRLS step with a handful of ``bincount`` calls: block 1 (the grouping factor
with the most random effects) stays a batch of q₁ × q₁ blocks, the other terms (block 2) form a
dense Schur complement.  Designs too large for dense block-2 arrays fall back on ``PLSSystem``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .design import Design
from .errors import ConvergenceError
from .families import Family
from .linalg import PLSSystem

__all__ = ["WeightedPLS", "PLSSolution", "GlmResponse", "PirlsState", "GlmerDevFun", "gh_rule"]

_DENSE_LIMIT = 4_000_000        # largest q2 · n1 · q1 (or q2²) kept as a dense array


def gh_rule(k: int) -> tuple[np.ndarray, np.ndarray]:
    """K-point Gauss-Hermite rule for the standard normal density (lme4's ``GHrule``): knots, weights."""
    z, w = np.polynomial.hermite_e.hermegauss(int(k))
    return z, w / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class PLSSolution:
    """One weighted PLS solve: new u (and β in stage 1), log|L|² and the pieces AGQ and vcov need."""

    u1: np.ndarray                 # (n1, q1)
    u2: np.ndarray | None          # (q2,)
    beta: np.ndarray | None        # (p,) when solved jointly
    ldL2: float
    L1: np.ndarray                 # (n1, q1, q1) block-1 Cholesky factors
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
                    cols.append(off + t.codes * t.q + j)
                    vals.append(t.values[:, j])
        self.cols2, self.vals2 = cols, vals
        n1q1 = self.n1 * self.q1
        self.pair2 = {(i, j): cols[i] * self.q2 + cols[j] for i in range(len(cols)) for j in range(i + 1)}
        self.dense = self.q2 == 0 or self.q2 ** 2 <= _DENSE_LIMIT
        rc = np.argwhere(s.lam1_index >= 0)
        self._lam1_rc = (rc[:, 0], rc[:, 1], s.lam1_index[rc[:, 0], rc[:, 1]])
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
        r, c, k = self._lam1_rc
        lam1 = np.zeros((self.q1, self.q1))
        lam1[r, c] = theta[k]
        lam2 = None
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
        if q1 == 1:                       # scalar block 1: elementwise arithmetic on (n1,) arrays
            lam, zc = lam1[0, 0], self.z1col
            z1w = (w * zc)[:, None]
            L = np.sqrt(lam * lam * np.bincount(codes, z1w[:, 0] * zc, minlength=n1) + 1.0)
            L1 = L[:, None, None]
            ldL2 = 2.0 * np.log(L).sum()
        else:
            z1w = self.z1 * w[:, None]
            A11 = np.empty((n1, q1, q1))
            for j in range(q1):
                for k in range(j + 1):
                    A11[:, j, k] = A11[:, k, j] = np.bincount(codes, z1w[:, j] * self.z1[:, k], minlength=n1)
            M = lam1.T @ A11 @ lam1
            M[:, np.arange(q1), np.arange(q1)] += 1.0
            L1 = _chol_small(M)
            ldL2 = 2.0 * np.log(np.diagonal(L1, axis1=1, axis2=2)).sum()
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
            W = (lam / L) if q1 == 1 else lam1 @ np.swapaxes(_fsolve_small(L1, np.broadcast_to(np.eye(q1), L1.shape)), 1, 2)
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
            L22 = scipy.linalg.cholesky(M22, lower=True, check_finite=False)
            ldL2 += 2.0 * np.log(np.diag(L22)).sum()
        return L1, z1w, wv, C, L22, float(ldL2)

    @staticmethod
    def _level_sums_X(codes, size, weight, X):
        """Σ over the rows of each level of weight·X[:, k], as one bincount: (size, p)."""
        p = X.shape[1]
        idx = (codes[:, None] * p + np.arange(p)).ravel()
        return np.bincount(idx, (weight[:, None] * X).ravel(), minlength=size * p).reshape(size, p)

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
                RZX1 = self._level_sums_X(codes, n1, z1w[:, 0], X)[:, None, :] * (lam1[0, 0] / Ld)[:, None, None]
        else:
            c1 = np.empty((n1, q1))
            for j in range(q1):
                c1[:, j] = np.bincount(codes, z1w[:, j] * z, minlength=n1)
            r1 = _fsolve_small(L1, c1 @ lam1)                                              # (n1, q1)
            if p:
                B1 = np.stack([self._level_sums_X(codes, n1, z1w[:, j], X) for j in range(q1)], axis=1)
                RZX1 = _fsolve_small(L1, lam1.T @ B1)                                      # (n1, q1, p)
        if q2:
            c2 = sum(np.bincount(c, wvi * z, minlength=q2) for c, wvi in zip(self.cols2, wv))
            r2 = scipy.linalg.solve_triangular(L22, self.lam2_times(lam2, c2, True) - C @ r1.ravel(), lower=True,
                                               check_finite=False)
            if p:
                B2 = sum(self._level_sums_X(c, q2, wvi, X) for c, wvi in zip(self.cols2, wv))
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
        u1 = r1 / L1[:, :, 0] if q1 == 1 else _bsolve_small(L1, r1)
        return PLSSolution(u1, u2, beta, ldL2, L1, RX)

    def _solve_sparse(self, theta, w, z, X) -> PLSSolution:
        """Large crossed designs: lmer's sparse-aware factorisation with the weights applied."""
        p = 0 if X is None else X.shape[1]
        Xm = np.empty((len(z), 0)) if X is None else X
        f = PLSSystem(self.structure, Xm, z, np.sqrt(w)).factor(theta)
        beta = f.beta if p else None
        u1, u2 = f.u(beta if p else np.empty(0))
        return PLSSolution(u1, u2, beta, float(f.ldL2), f.L1, f.Lxx[:p, :p] if p else None)


@dataclass(frozen=True, eq=False)
class GlmResponse:
    """The response as the family sees it: y (proportions for the binomial), prior weights, trials, offset."""

    family: Family
    y: np.ndarray
    weights: np.ndarray
    trials: np.ndarray
    offset: np.ndarray

    def dev_resids(self, mu):
        return self.family.dev_resids(self.y, mu, self.weights)

    def kernel(self, mu):
        """Unit deviances minus their part in y alone (:meth:`Family.dev_kernel`): what PIRLS compares."""
        if self._binary is not None:     # 0/1 binomial: −2 wt log(μ or 1 − μ), one logarithm
            a, b, m2w = self._binary
            return m2w * np.log(a + b * mu)
        return self.family.dev_kernel(self.y, mu, self.weights)

    @cached_property
    def _binary(self):
        y = self.y
        if self.family.name != "binomial" or not np.all((y == 0) | (y == 1)):
            return None
        return 1.0 - y, 2.0 * y - 1.0, -2.0 * self.weights

    @cached_property
    def dev_const(self) -> np.ndarray:
        mu0 = self.family.mustart(self.y, self.weights)
        return self.dev_resids(mu0) - self.kernel(mu0)

    @cached_property
    def _loglik(self):
        return self.family.loglik_function(self.y, self.weights, self.trials)

    def aic(self, mu) -> float:
        """−2 Σ log p(yᵢ | μᵢ) with the constants (R's ``family$aic``)."""
        return -2.0 * self._loglik(mu)


@dataclass(frozen=True, eq=False)
class PirlsState:
    """The conditional mode at (θ, β) and everything the deviance and the result need from it."""

    theta: np.ndarray
    beta: np.ndarray
    u1: np.ndarray
    u2: np.ndarray | None
    eta: np.ndarray
    mu: np.ndarray
    devres: np.ndarray
    ldL2: float
    L1: np.ndarray                 # block-1 Cholesky factors at the mode (AGQ's conditional sds)
    iterations: int

    @property
    def sum_u2(self) -> float:
        return _sq(self.u1, self.u2)

    @property
    def pdev(self) -> float:
        return float(self.devres.sum()) + self.sum_u2


@dataclass(frozen=True, eq=False)
class GlmerDevFun:
    """lme4's glmer deviance functions over one design and response.

    ``stage1(θ)`` is the nAGQ = 0 objective (β found by PIRLS with u); calling the object with
    x = (θ, β) gives the Laplace (nAGQ = 1) or AGQ deviance.  The last conditional mode is kept as
    the next PIRLS start (as lme4 does), which changes values only at the 1e-12 level.
    """

    design: Design
    response: GlmResponse
    nAGQ: int = 1
    tol: float = 1e-11
    maxit: int = 60
    pls: WeightedPLS = field(init=False)
    _warm: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "pls", WeightedPLS(self.design))

    @property
    def n_theta(self) -> int:
        return self.design.n_theta

    @property
    def lower(self) -> np.ndarray:
        """Bounds of x = (θ, β): Λ's diagonal ≥ 0, everything else free."""
        return np.concatenate([self.design.theta_lower, np.full(self.design.p, -np.inf)])

    def pirls(self, theta, beta=None) -> PirlsState:
        """Conditional mode at θ with β fixed, or jointly with β when ``beta`` is None (stage 1).

        Iterates until the mode is accurate to ~1e-12 and returns log|L|² computed with the weights
        at the returned mode, so that the deviance is smooth enough for finite-difference Hessians.
        With a canonical link PIRLS is Newton's method (quadratic convergence): once a step is below
        1e-7 the new iterate is within ~1e-14 of the mode and only log|L|² is recomputed there.

        Raises
        ------
        ConvergenceError
            When step halving cannot reduce the penalised deviance or the iterations run out.
        """
        theta = np.asarray(theta, float)
        joint = beta is None and self.design.p > 0
        resp, fam, X, pls = self.response, self.response.family, self.design.X, self.pls
        canonical = fam.is_canonical
        lams = pls.lambdas(theta)
        if beta is None:
            beta = self._warm.get("beta", np.zeros(X.shape[1]))
        beta = np.asarray(beta, float)
        u1, u2 = self._warm.get("u1"), self._warm.get("u2")
        if u1 is None:                    # first call: IRLS from the family's starting means
            eta = fam.linkfun(fam.mustart(resp.y, resp.weights))
        else:
            eta = resp.offset + X @ beta + pls.Zb(lams, u1, u2)
        mu = fam.linkinv(eta)
        kern = resp.kernel(mu)
        pdev = np.inf if u1 is None else kern.sum() + _sq(u1, u2)
        last_step = np.inf
        for it in range(1, self.maxit + 1):
            if canonical:
                mu_eta = fam.variance(mu)
                w = resp.weights * mu_eta
            else:
                mu_eta = fam.mu_eta(eta)
                w = resp.weights * mu_eta ** 2 / fam.variance(mu)
            zr = (eta - resp.offset if joint else eta - resp.offset - X @ beta) + (resp.y - mu) / mu_eta
            if not (np.all(np.isfinite(w)) and np.all(w >= 0) and np.all(np.isfinite(zr))):
                raise ConvergenceError(_PIRLS_HELP.format(
                    what=f"the {fam.link.name} link gives means outside the {fam.name} family's range",
                    theta=np.round(theta, 4)))
            try:
                sol = pls.solve(theta, lams, w, zr, X if joint else None)
            except np.linalg.LinAlgError:
                raise ConvergenceError(_PIRLS_HELP.format(what="the weighted least-squares system is singular",
                                                          theta=np.round(theta, 4))) from None
            nbeta = sol.beta if joint else beta
            step = scale = np.inf
            if u1 is not None:
                step = max(np.abs(sol.u1 - u1).max(), 0.0 if u2 is None else np.abs(sol.u2 - u2).max(),
                           np.abs(nbeta - beta).max(initial=0.0))
                scale = 1.0 + max(np.abs(u1).max(), np.abs(beta).max(initial=0.0))
                if step <= self.tol * scale or (step < 1e-7 * scale and step >= 0.5 * last_step):
                    # the mode is within tol of u, and ldL2 was computed with the weights at u
                    return self._state(theta, beta, u1, u2, eta, mu, kern, sol.ldL2, sol.L1, it)
                last_step = step
            nu1, nu2 = sol.u1, sol.u2
            halved = False
            for _ in range(30):                      # step halving on the penalised deviance
                neta = resp.offset + X @ nbeta + pls.Zb(lams, nu1, nu2)
                nmu = fam.linkinv(neta)
                nkern = resp.kernel(nmu)
                npdev = nkern.sum() + _sq(nu1, nu2)
                if u1 is None or (np.isfinite(npdev) and npdev <= pdev + 1e-10 * (1.0 + abs(npdev))):
                    break
                halved = True
                nu1 = 0.5 * (nu1 + u1)
                nu2 = None if nu2 is None else 0.5 * (nu2 + u2)
                nbeta = 0.5 * (nbeta + beta)
            else:
                raise ConvergenceError(_PIRLS_HELP.format(
                    what="step halving could not reduce the penalised deviance", theta=np.round(theta, 4)))
            if not np.isfinite(npdev):
                raise ConvergenceError(_PIRLS_HELP.format(what="the penalised deviance is not finite",
                                                          theta=np.round(theta, 4)))
            u1, u2, beta, eta, mu, kern, pdev = nu1, nu2, nbeta, neta, nmu, nkern, npdev
            if canonical and not halved and step < 1e-7 * scale:
                ldL2, L1 = pls.logdet(theta, lams, resp.weights * fam.variance(mu))
                return self._state(theta, beta, u1, u2, eta, mu, kern, ldL2, L1, it)
        raise ConvergenceError(_PIRLS_HELP.format(what=f"no convergence in {self.maxit} iterations",
                                                  theta=np.round(theta, 4)))

    def _state(self, theta, beta, u1, u2, eta, mu, kern, ldL2, L1, it) -> PirlsState:
        self._warm.update(u1=u1, u2=u2, beta=beta)
        return PirlsState(theta, beta, u1, u2, eta, mu, self.response.dev_const + kern, float(ldL2), L1, it)

    # --- objectives ----------------------------------------------------------------------------
    def laplace(self, state: PirlsState) -> float:
        return state.ldL2 + state.sum_u2 + self.response.aic(state.mu)

    def stage1(self, theta) -> float:
        """nAGQ = 0 objective: Laplace deviance at the joint mode (β̃, ũ) of the penalised likelihood."""
        return self.laplace(self.pirls(theta))

    def split(self, x) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, float)
        return x[:self.n_theta], x[self.n_theta:]

    def __call__(self, x) -> float:
        theta, beta = self.split(x)
        state = self.pirls(theta, beta)
        return self.laplace(state) if self.nAGQ <= 1 else self.agq(state)

    def agq(self, state: PirlsState) -> float:
        """Adaptive Gauss-Hermite deviance (single scalar random-effect term; see the module docstring)."""
        z, wts = gh_rule(self.nAGQ)
        pls, resp, fam = self.pls, self.response, self.response.family
        codes, n1 = pls.codes1, pls.n1
        u = state.u1[:, 0]
        lam = state.theta[0]
        devc0 = u ** 2 + np.bincount(codes, state.devres, minlength=n1)
        sd = 1.0 / state.L1[:, 0, 0]
        base = state.eta - lam * pls.z1[:, 0] * u[codes]              # η without the random effect
        uk = u[None, :] + z[:, None] * sd[None, :]                    # (K, n1)
        eta_k = base[None, :] + lam * pls.z1[None, :, 0] * uk[:, codes]
        dev_k = fam.dev_resids(resp.y[None, :], fam.linkinv(eta_k), resp.weights[None, :])
        devc = uk ** 2 + np.stack([np.bincount(codes, d, minlength=n1) for d in dev_k])
        mult = (wts[:, None] * np.exp(-0.5 * (devc - devc0[None, :]) + 0.5 * z[:, None] ** 2)).sum(axis=0)
        return float(devc0.sum() + state.ldL2 - 2.0 * np.log(mult).sum())


def _chol_small(M: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a stack (n, q, q) of small SPD matrices, column by column.

    For q of 2 or 3 this is a few elementwise operations on (n,) arrays, far cheaper than LAPACK
    called once per matrix through numpy's batched interface.
    """
    q = M.shape[-1]
    if q > 6:
        return np.linalg.cholesky(M)
    L = np.zeros_like(M)
    for j in range(q):
        d = M[:, j, j] - (L[:, j, :j] ** 2).sum(axis=-1)
        L[:, j, j] = np.sqrt(d)
        for i in range(j + 1, q):
            L[:, i, j] = (M[:, i, j] - (L[:, i, :j] * L[:, j, :j]).sum(axis=-1)) / L[:, j, j]
    return L


def _fsolve_small(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve L X = B per level: L (n, q, q) lower triangular, B (n, q) or (n, q, m)."""
    X = np.empty_like(B)
    for i in range(L.shape[-1]):
        acc = B[:, i] - (np.einsum("nk,nk...->n...", L[:, i, :i], X[:, :i]) if i else 0.0)
        X[:, i] = acc / (L[:, i, i] if B.ndim == 2 else L[:, i, i][:, None])
    return X


def _bsolve_small(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve L' x = b per level: L (n, q, q) lower triangular, b (n, q)."""
    q = L.shape[-1]
    x = np.empty_like(b)
    for i in range(q - 1, -1, -1):
        x[:, i] = (b[:, i] - (L[:, i + 1:, i] * x[:, i + 1:]).sum(axis=-1)) / L[:, i, i]
    return x


def _sq(u1, u2) -> float:
    return float((u1 * u1).sum() + (0.0 if u2 is None else (u2 * u2).sum()))


_PIRLS_HELP = ("PIRLS (the inner loop of glmer that finds the conditional modes of the random effects) failed: "
               "{what} at theta = {theta}. Try centring and scaling continuous predictors, simplifying the "
               "random-effects structure, or checking for complete separation (a group or predictor value "
               "whose responses are all 0 or all 1).")
