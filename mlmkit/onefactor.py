"""PIRLS for a GLMM with one grouping factor at a million rows: per-group Newton blocks, no n × q arrays.

With a single grouping factor (``y ~ x + (1 + x | g)``) the random effects of different groups do not
interact, so every Newton step of PIRLS is a set of small q × q problems coupled only through β.
For θ (giving Λ, q × q), working weights wᵢ and scores sᵢ = wtᵢ (dμ/dη)(yᵢ − μᵢ)/V(μᵢ) of the current
η, the per-group sums (zᵢ the random-effects row, xᵢ the fixed-effects row)

    A_j = Σ_{i∈j} wᵢ zᵢzᵢ',   B_j = Σ_{i∈j} wᵢ zᵢxᵢ',   G_j = Σ_{i∈j} zᵢ sᵢ,
    XWX = Σᵢ wᵢ xᵢxᵢ',        Xs  = Σᵢ xᵢ sᵢ

are a handful of ``np.add.reduceat`` calls over the rows, sorted by group once (columns shared by
z and x, such as the intercept, are summed once).  The weighted PLS system for the new (u, β) of PIRLS is then

    L_j = chol(Λ'A_jΛ + I),   r_j = L_j⁻¹Λ'c_j,   R_j = L_j⁻¹Λ'B_j,
    S = XWX − Σ_j R_j'R_j,    β = S⁻¹(c_X − Σ_j R_j'r_j),   u_j = L_j⁻ᵀ(r_j − R_jβ)

with right-hand sides c_j = Σ wᵢzᵢzrᵢ, c_X = Σ wᵢxᵢzrᵢ of the working response zr.  When η = offset +
Xβ + ZΛu is the current iterate, w·zr = w·(η − offset) + s, so c_j = A_jΛu_j + B_jβ + G_j and
c_X = XWX β + Σ_j B_j'Λu_j + Xs come from the sums above (with β fixed, the B and X terms drop out
and only u is solved for).  All of this is the algebra of :class:`mlmkit.wpls.WeightedPLS`
arranged so that the work over rows is a few vectorised passes per iteration; the iteration itself
(convergence test, step halving) is :meth:`mlmkit.pirls.GlmerDevFun.pirls`'s, which calls
:meth:`OneFactorPLS.mode` for large one-factor designs.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from .linalg import backward_solve_batched, chol_batched, forward_solve_batched

__all__ = ["OneFactorPLS"]

_EPS = np.finfo(float).eps
MIN_ROWS = 20_000           # below this the general solver's fewer numpy calls win


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


class OneFactorPLS:
    """The per-group sums and the small solves of one grouping factor's PIRLS (module docstring).

    Columns are stored once each: ``cols`` holds the distinct columns of z and X (None for a column
    of ones), ``zc``/``xc`` index into it.
    """

    @classmethod
    def suitable(cls, design) -> bool:
        """One grouping factor (any number of terms on it, up to 6 effects per level), 20,000+ rows."""
        s = design.structure
        return s.q2 == 0 and design.nobs >= MIN_ROWS and s.q1 <= 6

    def __init__(self, design, response):
        s = design.structure
        self.n1, self.q, self.p = s.n1, s.q1, design.p
        codes = np.asarray(s.codes1, dtype=np.intp)
        # rows sorted by group: per-group sums are np.add.reduceat over contiguous runs and the
        # group values reach the rows by np.repeat (several times faster than bincount and gathers)
        self.order = np.argsort(codes, kind="stable").astype(np.int32 if len(codes) < 2**31 else np.intp)
        self.counts = np.bincount(codes, minlength=self.n1)
        self.nonempty = self.counts > 0
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])[self.nonempty]
        self.n = len(codes)
        cols: list[np.ndarray | None] = []

        def index(col):
            col = np.asarray(col, dtype=float)
            if np.all(col == 1.0):
                col = None
            for k, c in enumerate(cols):
                if (c is None and col is None) or (c is not None and col is not None and _same(c, col[self.order])):
                    return k
            cols.append(None if col is None else col[self.order])
            return len(cols) - 1

        X = np.asarray(design.X, float)
        self.xc = [index(X[:, k]) for k in range(self.p)]
        self.zc = [index(s.z1[:, k]) for k in range(self.q)]
        self.cols = cols
        self.resp = response
        self.fam = fam = response.family
        self.logit = fam.link.name == "logit"
        self.canonical = fam.is_canonical
        self.y = response.y[self.order]
        self.wt = None if np.all(response.weights == 1.0) else response.weights[self.order]
        self.off = response.offset[self.order] if np.any(response.offset) else None
        # a 0/1 binomial's kernel −2 wt log(a + bμ), a = 1 − y, b = 2y − 1, as GlmResponse.kernel
        self.binary = (1.0 - self.y, 2.0 * self.y - 1.0) if response.is_binary else None
        r, c = np.nonzero(s.lam1_index >= 0)
        self._lam_rc = (r, c, s.lam1_index[r, c])

    @cached_property
    def dev_const(self):
        """:attr:`GlmResponse.dev_const` in the sorted order, or 0.0 where it is rounding error only
        (0/1 data: the deviance residual is its kernel, ±1e-16 apart), which saves a vector."""
        const = self.resp.dev_const
        return const[self.order] if np.abs(const).max(initial=0.0) > 1e-12 else 0.0

    def unsort(self, v: np.ndarray) -> np.ndarray:
        """A row vector back in the data's order."""
        out = np.empty_like(v)
        out[self.order] = v
        return out

    def rescale(self, u: np.ndarray, theta_old, theta_new) -> np.ndarray:
        """The spherical effects at θ_new with the same b = Λu as u at θ_old (so the same η): a warm
        start for PIRLS after θ moves, where u itself would scale every random effect by λ_new/λ_old."""
        lo, ln = self.lam(theta_old), self.lam(theta_new)
        if np.any(np.abs(np.diag(ln)) < 1e-6) or np.any(np.abs(np.diag(lo)) < 1e-6):
            return u
        return np.linalg.solve(ln, lo @ u.T).T

    # --- rows ---------------------------------------------------------------------------------
    def col(self, k: int, v: np.ndarray) -> np.ndarray:
        """v times column k (v itself for the column of ones)."""
        c = self.cols[k]
        return v if c is None else v * c

    def lam(self, theta) -> np.ndarray:
        r, c, k = self._lam_rc
        lam = np.zeros((self.q, self.q))
        lam[r, c] = np.asarray(theta, float)[k]
        return lam

    def fixed(self, beta: np.ndarray) -> np.ndarray:
        """offset + Xβ (a new array), each distinct column of X used once."""
        coef: dict[int, float] = {}
        for j, k in enumerate(self.xc):
            coef[k] = coef.get(k, 0.0) + beta[j]
        out = np.zeros(self.n) if self.off is None else self.off.copy()
        for k, bk in coef.items():
            if self.cols[k] is None:
                out += bk
            else:
                out += bk * self.cols[k]
        return out

    def eta(self, lam: np.ndarray, u: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """η = offset + Xβ + Σ_k z_k (Λu)_k[g]: one gather per random-effects column."""
        b = u @ lam.T                                                    # (n1, q)
        eta = self.fixed(beta)
        for k in range(self.q):
            t = np.repeat(b[:, k], self.counts)
            if self.cols[self.zc[k]] is not None:
                t *= self.cols[self.zc[k]]
            eta += t
        return eta

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """μ; for the logit link 1/(1 + exp(−η)) clamped to [ε, 1 − ε] as ``family.linkinv`` (numpy's
        vectorised exp is several times faster than scipy's expit; the values agree to 1 ulp)."""
        if self.logit:
            mu = np.negative(eta)
            with np.errstate(over="ignore"):
                np.exp(mu, out=mu)
            mu += 1.0
            np.reciprocal(mu, out=mu)
            return np.clip(mu, _EPS, 1.0 - _EPS, out=mu)
        return self.fam.linkinv(eta)

    def kernel(self, mu: np.ndarray) -> np.ndarray:
        """:meth:`GlmResponse.kernel` on the sorted rows (the same operations, the same values)."""
        if self.binary is None:
            return self.fam.dev_kernel(self.y, mu, np.ones(self.n) if self.wt is None else self.wt)
        a, b = self.binary
        t = b * mu
        t += a
        np.log(t, out=t)
        t *= -2.0
        if self.wt is not None:
            t *= self.wt
        return t

    def weights(self, eta, mu):
        """Working weights w and scores s = w·(y − μ)/(dμ/dη) (for a canonical link wt·(y − μ))."""
        fam = self.fam
        if self.canonical:
            w = fam.variance(mu)
            if w is mu:                         # Poisson's V(μ) = μ: w is changed in place below
                w = mu.copy()
            s = self.y - mu
            if self.wt is not None:
                w *= self.wt
                s *= self.wt
            return w, s
        mu_eta = fam.mu_eta(eta)
        wt = 1.0 if self.wt is None else self.wt
        w = wt * mu_eta ** 2 / fam.variance(mu)
        return w, w * (self.y - mu) / mu_eta

    # --- per-group sums ------------------------------------------------------------------------
    def _gsum(self, v: np.ndarray) -> np.ndarray:
        r = np.add.reduceat(v, self.starts)
        if r.size == self.n1:
            return r
        out = np.zeros(self.n1)
        out[self.nonempty] = r
        return out

    def sums(self, w: np.ndarray, s: np.ndarray, joint: bool):
        """A (n1, q, q), B (n1, q, p), G (n1, q) and, when ``joint``, XWX (p, p), Xs (p,)."""
        q, p, n1 = self.q, self.p, self.n1
        pair: dict[tuple[int, int], np.ndarray] = {}            # group sums of w·col_a·col_b
        wcol = {}

        def gpair(a, b):
            key = (min(a, b), max(a, b))
            if key not in pair:
                if key[0] not in wcol:
                    wcol[key[0]] = self.col(key[0], w)
                pair[key] = self._gsum(self.col(key[1], wcol[key[0]]))
            return pair[key]

        A = np.empty((n1, q, q))
        for j in range(q):
            for m in range(j + 1):
                A[:, j, m] = A[:, m, j] = gpair(self.zc[j], self.zc[m])
        G = np.stack([self._gsum(self.col(k, s)) for k in self.zc], axis=1)
        B = XWX = Xs = None
        if joint and p:
            B = np.empty((n1, q, p))
            for j in range(q):
                for m in range(p):
                    B[:, j, m] = gpair(self.zc[j], self.xc[m])
            XWX = np.empty((p, p))
            for j in range(p):
                for m in range(j + 1):
                    key = (min(self.xc[j], self.xc[m]), max(self.xc[j], self.xc[m]))
                    if key in pair:
                        v = pair[key].sum()
                    else:
                        if key[0] not in wcol:
                            wcol[key[0]] = self.col(key[0], w)
                        v = np.dot(wcol[key[0]], self.cols[key[1]]) if self.cols[key[1]] is not None \
                            else wcol[key[0]].sum()
                    XWX[j, m] = XWX[m, j] = v
            zs = {self.zc[j]: G[:, j].sum() for j in range(q)}
            Xs = np.array([zs[k] if k in zs else (s.sum() if self.cols[k] is None else np.dot(s, self.cols[k]))
                           for k in self.xc])
        return A, B, G, XWX, Xs

    def rhs_from(self, wzr: np.ndarray, joint: bool):
        """c (n1, q) and c_X (p,) from an explicit w·zr (the first iteration, from the family's start)."""
        c = np.stack([self._gsum(self.col(k, wzr)) for k in self.zc], axis=1)
        cX = None
        if joint and self.p:
            cX = np.array([wzr.sum() if self.cols[k] is None else np.dot(wzr, self.cols[k]) for k in self.xc])
        return c, cX

    # --- the small solves ------------------------------------------------------------------------
    def solve(self, lam, A, B, c, XWX, cX):
        """(u, β or None, log|L|², L) of the system in the module docstring."""
        q = self.q
        if q == 1:
            l = lam[0, 0]
            L = np.sqrt(l * l * A[:, 0, 0] + 1.0)[:, None, None]
        else:
            M = np.matmul(np.matmul(lam.T, A), lam)
            M[:, np.arange(q), np.arange(q)] += 1.0
            L = chol_batched(M)
        ldL2 = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum()
        r = forward_solve_batched(L, c @ lam)                                # (n1, q)
        beta = None
        if B is not None:
            R = forward_solve_batched(L, np.matmul(lam.T, B))                # (n1, q, p)
            Rf = R.reshape(-1, self.p)
            S = XWX - Rf.T @ Rf
            beta = np.linalg.solve(S, cX - Rf.T @ r.ravel())
            r = r - np.einsum("njp,p->nj", R, beta)
        u = backward_solve_batched(L, r)
        return u, beta, float(ldL2), L

    def logdet(self, lam, w) -> tuple[float, np.ndarray]:
        """log|Λ'AΛ + I|² terms: (ldL2, L) for weights w without solving."""
        q = self.q
        A = np.empty((self.n1, q, q))
        wz = [self.col(k, w) for k in self.zc]
        for j in range(q):
            for m in range(j + 1):
                A[:, j, m] = A[:, m, j] = self._gsum(self.col(self.zc[m], wz[j]))
        if q == 1:
            L = np.sqrt(lam[0, 0] ** 2 * A[:, 0, 0] + 1.0)[:, None, None]
        else:
            M = np.matmul(np.matmul(lam.T, A), lam)
            M[:, np.arange(q), np.arange(q)] += 1.0
            L = chol_batched(M)
        return float(2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum()), L

    # --- the iteration -------------------------------------------------------------------------
    def _rhs(self, lam, u, beta, A, B, G, XWX, Xs, joint):
        """c_j = A_jΛu_j (+ B_jβ) + G_j and c_X = XWX β + Σ_j B_j'Λu_j + Xs at a consistent η."""
        lu = u @ lam.T
        c = np.einsum("njk,nk->nj", A, lu) + G
        cX = None
        if joint and self.p:
            c += B @ beta
            cX = XWX @ beta + np.einsum("njp,nj->p", B, lu) + Xs
        return c, cX

    def mode(self, theta, beta, u, tol: float, maxit: int, last_step: float, joint: bool, fail):
        """PIRLS to the conditional mode, as :meth:`mlmkit.pirls.GlmerDevFun.pirls` (same tests).

        ``u`` None starts from the family's starting means.  Returns (u, β, η, μ, kernel, ldL2, L, it);
        ``fail(what)`` builds the ConvergenceError to raise.
        """
        fam = self.fam
        lam = self.lam(theta)
        first = u is None
        if first:
            eta = fam.linkfun(fam.mustart(self.y, np.ones(self.n) if self.wt is None else self.wt))
        else:
            eta = self.eta(lam, u, beta)
        mu = self.linkinv(eta)
        kern = self.kernel(mu)
        pdev = np.inf if first else kern.sum() + (u * u).sum()
        for it in range(1, maxit + 1):
            w, s = self.weights(eta, mu)
            if not (w.min() >= 0 and np.isfinite(s.sum())):
                raise fail(f"the {fam.link.name} link gives means outside the {fam.name} family's range")
            A, B, G, XWX, Xs = self.sums(w, s, joint)
            if first:
                wzr = eta - (self.fixed(np.zeros(self.p)) if joint else self.fixed(beta))
                wzr *= w
                wzr += s
                c, cX = self.rhs_from(wzr, joint)
                del wzr
            else:
                c, cX = self._rhs(lam, u, beta, A, B, G, XWX, Xs, joint)
            del w, s                            # two vectors fewer during the step halving
            try:
                nu, nbeta, ldL2, L = self.solve(lam, A, B if joint else None, c, XWX, cX)
            except np.linalg.LinAlgError:
                raise fail("the weighted least-squares system is singular") from None
            if not joint:
                nbeta = beta
            step = scale = np.inf
            if not first:
                step = max(np.abs(nu - u).max(), np.abs(nbeta - beta).max(initial=0.0))
                scale = 1.0 + max(np.abs(u).max(), np.abs(beta).max(initial=0.0))
                if step <= tol * scale or (step < 1e-10 * scale and step >= 0.5 * last_step):
                    return u, beta, eta, mu, kern, ldL2, L, it
            halved = False
            for _ in range(30):
                neta = self.eta(lam, nu, nbeta)
                nmu = self.linkinv(neta)
                nkern = self.kernel(nmu)
                npdev = nkern.sum() + (nu * nu).sum()
                if first or (np.isfinite(npdev) and npdev <= pdev + 1e-10 * (1.0 + abs(npdev))):
                    break
                halved = True
                nu, nbeta = 0.5 * (nu + u), 0.5 * (nbeta + beta)
            else:
                raise fail("step halving could not reduce the penalised deviance")
            if not np.isfinite(npdev):
                raise fail("the penalised deviance is not finite")
            u, beta, eta, mu, kern, pdev, first = nu, nbeta, neta, nmu, nkern, npdev, False
            quadratic = step * step * step / (last_step * last_step) if np.isfinite(last_step) else np.inf
            last_step = step
            if self.canonical and not halved and quadratic < 0.1 * tol * scale:
                ldL2, L = self.logdet(lam, self.weights(eta, mu)[0])
                return u, beta, eta, mu, kern, ldL2, L, it
        raise fail(f"no convergence in {maxit} iterations")

    # --- the gradient of the Laplace deviance ------------------------------------------------------
    @property
    def has_gradient(self) -> bool:
        """Analytic gradient available: a canonical link of the binomial or Poisson family."""
        return self.canonical and self.fam.name in ("binomial", "poisson")

    def gradient(self, theta, u: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """∂D/∂(θ, β) of the Laplace deviance D = Σ dᵢ + ‖ũ‖² + Σ_j log|M_j| at the mode ũ (canonical link).

        With sᵢ = wtᵢ(yᵢ − μᵢ), wᵢ = wtᵢV(μᵢ), K_j = ΛM_j⁻¹Λ', hᵢ = wᵢV'(μᵢ) zᵢ'K_jzᵢ (the change of
        log|M_j| with ηᵢ), H_j = Σ hᵢzᵢ, P_j = M_j⁻¹Λ'H_j and the sums A, B, G of the module docstring
        (ũ_j = Λ'G_j at the mode, so the terms in dũ cancel in Σ dᵢ + ‖ũ‖²; dũ_j/dβ = −M_j⁻¹Λ'B_j):

            ∂D/∂β   = −2 Σᵢ sᵢxᵢ + Σᵢ hᵢxᵢ − Σ_j B_j'K_jH_j
            ∂D/∂θ_k = Σ_j [(H_j − 2G_j − A_jΛP_j)_r ũ_{j,c} + 2 (M_j⁻¹Λ'A_j)_{c,r} + P_{j,c} G_{j,r}]

        for θ_k = Λ[r, c].  Checked against central differences in tests/test_onefactor.py.
        """
        q = self.q
        lam = self.lam(theta)
        w, s = self.weights(None, mu)
        A, B, G, XWX, Xs = self.sums(w, s, joint=True)
        del s
        M = np.matmul(np.matmul(lam.T, A), lam)
        M[:, np.arange(q), np.arange(q)] += 1.0
        Minv = np.linalg.inv(M) if q > 1 else 1.0 / M
        K = np.matmul(np.matmul(lam, Minv), lam.T)
        zKz = None
        for a in range(q):
            for b in range(a + 1):
                t = np.repeat(K[:, a, b], self.counts)
                if self.cols[self.zc[a]] is not None:
                    t *= self.cols[self.zc[a]]
                if self.cols[self.zc[b]] is not None:
                    t *= self.cols[self.zc[b]]
                if a != b:
                    t *= 2.0
                zKz = t if zKz is None else zKz.__iadd__(t)
        h = w                                   # (in place: w is not needed any more)
        h *= zKz
        del zKz
        if self.fam.name == "binomial":         # V'(μ) = 1 − 2μ
            t = mu * -2.0
            t += 1.0
            h *= t
            del t
        H = np.stack([self._gsum(self.col(k, h)) for k in self.zc], axis=1)
        zsum = {self.zc[j]: H[:, j].sum() for j in range(q)}
        hx = np.array([zsum[k] if k in zsum else (h.sum() if self.cols[k] is None else np.dot(h, self.cols[k]))
                       for k in self.xc])
        g_beta = -2.0 * Xs + hx - np.einsum("njp,njk,nk->p", B, K, H) if self.p else np.zeros(0)
        P = np.einsum("njk,nk->nj", Minv, H @ lam)                       # M⁻¹Λ'H
        N = np.matmul(Minv, np.matmul(lam.T, A))                         # M⁻¹Λ'A
        T = H - 2.0 * G - np.einsum("njk,nk->nj", A, P @ lam.T)          # H − 2G − AΛP
        r, c, k = self._lam_rc
        g_theta = np.zeros(int(k.max()) + 1 if k.size else 0)
        for rr, cc, kk in zip(r, c, k):
            g_theta[kk] += np.dot(T[:, rr], u[:, cc]) + 2.0 * N[:, cc, rr].sum() + np.dot(P[:, cc], G[:, rr])
        return np.concatenate([g_theta, g_beta])
