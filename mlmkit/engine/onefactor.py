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
and only u is solved for).  All of this is the algebra of :class:`mlmkit.engine.wpls.WeightedPLS`
arranged so that the work over rows is a few vectorised passes per iteration; the iteration itself
(convergence test, step halving) is :func:`mlmkit.engine.pirls.iterate`'s, the one all PIRLS runs use.

Memory: the passes over rows go block by block (:data:`BLOCK_ROWS` rows of whole groups each), since
every per-group sum, and the gradient, is a sum over groups.  Between passes PIRLS keeps one n-vector,
μ; η and the unit deviances are recomputed where a caller needs them.  At a million rows each n-vector
is 8 MB, so the iteration's temporaries stay at a few MB instead of ~10 vectors.
"""
from __future__ import annotations

import copy
from functools import cached_property

import numpy as np

from .linalg import backward_solve_batched, chol_penalised, forward_solve_batched, inv_lower_batched, logdet_batched

__all__ = ["OneFactorPLS"]

_EPS = np.finfo(float).eps
MIN_ROWS = 20_000           # below this the general solver's fewer numpy calls win
BLOCK_ROWS = 1 << 16        # rows per pass block: 0.5 MB per temporary, big enough for numpy's speed


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _all_equal(a: np.ndarray, value: float) -> bool:
    """Every element equals ``value`` (a constant broadcast view is checked by its one element)."""
    a = np.asarray(a)
    if a.ndim == 1 and a.strides == (0,):
        return a.size == 0 or bool(a[0] == value)
    return bool(np.all(a == value))


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
        # A 0/1 binomial keeps y as booleans (1 byte a row): y − μ and its kernel −2 wt log(μ or 1 − μ)
        # (GlmResponse.kernel's a + bμ, exactly) need nothing else.
        self.ybin = response.y[self.order] == 1.0 if response.is_binary else None
        self.y = None if self.ybin is not None else response.y[self.order]
        self.wt = None if _all_equal(response.weights, 1.0) else response.weights[self.order]
        self.off = None if _all_equal(response.offset, 0.0) else response.offset[self.order]
        r, c = np.nonzero(s.lam1_index >= 0)
        self._lam_rc, self._lambda1 = (r, c, s.lam1_index[r, c]), s.lambda1
        self.gidx, self.rows = np.flatnonzero(self.nonempty), slice(0, self.n)
        self.blocks = self._blocks()

    def _blocks(self) -> list["OneFactorPLS"]:
        """The row blocks: consecutive whole groups of about BLOCK_ROWS rows (a larger group alone)."""
        starts, n = self.starts, self.n
        cuts = np.unique(np.searchsorted(starts, np.arange(0, n, BLOCK_ROWS))).tolist() + [len(starts)]
        blocks = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            if a < b:
                r0, r1 = int(starts[a]), int(starts[b]) if b < len(starts) else n
                blocks.append(self._part(slice(r0, r1), a, b))
        return blocks

    def _part(self, rows: slice, a: int, b: int) -> "OneFactorPLS":
        """The same object restricted to rows ``rows``, holding the nonempty groups a..b−1 (views)."""
        part = copy.copy(self)
        part.__dict__.pop("dev_const", None)
        cut = (lambda v: None if v is None else v[rows])
        part.cols = [cut(c) for c in self.cols]
        part.y, part.ybin, part.wt, part.off = cut(self.y), cut(self.ybin), cut(self.wt), cut(self.off)
        part.rows, part.n = rows, rows.stop - rows.start
        part.gidx = self.gidx[a:b]
        part.starts = self.starts[a:b] - rows.start
        part.counts = self.counts[part.gidx]
        part.n1 = b - a
        part.nonempty = np.ones(part.n1, dtype=bool)
        part.blocks = None
        return part

    def _gather(self, parts: list[np.ndarray]) -> np.ndarray:
        """Per-block arrays over their groups, stacked into one over all n1 groups (0 for empty ones)."""
        cat = parts[0] if len(parts) == 1 else np.concatenate(parts)       # one block: no copy
        if cat.shape[0] == self.n1:
            return cat
        out = np.zeros((self.n1,) + cat.shape[1:])
        out[self.nonempty] = cat
        return out

    @cached_property
    def dev_const(self):
        """:attr:`GlmResponse.dev_const` in the sorted order, or 0.0 where it is rounding error only
        (0/1 data: the deviance residual is its kernel, ±1e-16 apart), which saves a vector."""
        const = self.resp.dev_const
        if _all_equal(const, 0.0) or np.abs(const).max(initial=0.0) <= 1e-12:
            return 0.0
        return const[self.order]

    def unsort(self, v: np.ndarray) -> np.ndarray:
        """A row vector back in the data's order."""
        out = np.empty_like(v)
        out[self.order] = v
        return out

    def rows_at(self, lam, u, beta) -> tuple[np.ndarray, np.ndarray]:
        """μ and the kernel at (u, β) in the data's order, block by block (the same operations as
        :meth:`evaluate`, so the same values, with no sorted vector besides)."""
        mu, kern = np.empty(self.n), np.empty(self.n)
        for blk in self.blocks:
            where = self.order[blk.rows]
            m = blk.linkinv(blk.eta(lam, u[blk.gidx], beta))
            mu[where] = m
            kern[where] = blk.kernel(m)
        return mu, kern

    def rows_eta(self, lam, u, beta) -> np.ndarray:
        """η at (u, β) in the data's order (the values :meth:`rows_at` used)."""
        eta = np.empty(self.n)
        for blk in self.blocks:
            eta[self.order[blk.rows]] = blk.eta(lam, u[blk.gidx], beta)
        return eta

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
        return self._lambda1(np.asarray(theta, float))

    def fixed(self, beta: np.ndarray) -> np.ndarray:
        """offset + Xβ (a new array), each distinct column of X used once."""
        coef: dict[int, float] = {}
        for j, k in enumerate(self.xc):
            coef[k] = coef.get(k, 0.0) + beta[j]
        out = np.zeros(self.n) if self.off is None else self.off.copy()
        for k, bk in coef.items():
            out += bk if self.cols[k] is None else bk * self.cols[k]
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
        """:meth:`GlmResponse.kernel` on the sorted rows (the same values: a + bμ with a = 1 − y,
        b = 2y − 1 is μ where y = 1 and 1 − μ where y = 0, exactly)."""
        if self.ybin is None:
            return self.fam.dev_kernel(self.y, mu, np.ones(self.n) if self.wt is None else self.wt)
        t = np.subtract(1.0, mu)
        np.copyto(t, mu, where=self.ybin)
        np.log(t, out=t)
        t *= -2.0
        if self.wt is not None:
            t *= self.wt
        return t

    def weights(self, eta, mu):
        """Working weights w and scores s = w·(y − μ)/(dμ/dη) (for a canonical link wt·(y − μ))."""
        fam = self.fam
        y = self.y if self.ybin is None else self.ybin
        if self.canonical:
            w = fam.variance(mu)
            if w is mu:                         # Poisson's V(μ) = μ: w is changed in place below
                w = mu.copy()
            s = np.subtract(y, mu)
            if self.wt is not None:
                w *= self.wt
                s *= self.wt
            return w, s
        mu_eta = fam.mu_eta(eta)
        wt = 1.0 if self.wt is None else self.wt
        w = wt * mu_eta ** 2 / fam.variance(mu)
        return w, w * np.subtract(y, mu) / mu_eta

    # --- per-group sums ------------------------------------------------------------------------
    def _gsum(self, v: np.ndarray) -> np.ndarray:
        """Σ v over the rows of each group (0 for an empty one)."""
        return self._gather([np.add.reduceat(v, self.starts)])

    def sums(self, w: np.ndarray, s: np.ndarray, joint: bool):
        """A (n1, q, q), B (n1, q, p), G (n1, q) (None without scores ``s``) and, when ``joint``, XWX (p, p),
        Xs (p,)."""
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
        G = None if s is None else np.stack([self._gsum(self.col(k, s)) for k in self.zc], axis=1)
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
            Xs = self._xdot(s, G)
        return A, B, G, XWX, Xs

    def _xdot(self, v: np.ndarray, per_group: np.ndarray | None = None) -> np.ndarray:
        """Σᵢ vᵢxᵢ, each distinct column once; a column shared with z is the sum of its ``per_group`` sums."""
        known = {} if per_group is None else {self.zc[j]: per_group[:, j].sum() for j in range(self.q)}
        return np.array([known[k] if k in known else (v.sum() if self.cols[k] is None else np.dot(v, self.cols[k]))
                         for k in self.xc])

    def rhs_from(self, wzr: np.ndarray, joint: bool):
        """c (n1, q) and c_X (p,) from an explicit w·zr (the first iteration, from the family's start)."""
        c = np.stack([self._gsum(self.col(k, wzr)) for k in self.zc], axis=1)
        return c, (self._xdot(wzr) if joint and self.p else None)

    # --- the small solves ------------------------------------------------------------------------
    def solve(self, lam, A, B, c, XWX, cX):
        """(u, β or None, log|L|², L) of the system in the module docstring."""
        L = chol_penalised(lam, A)
        ldL2 = logdet_batched(L)
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

    def logdet(self, lam, mu) -> tuple[float, np.ndarray]:
        """log|Λ'AΛ + I|² terms: (ldL2, L) for the weights at ``mu`` (canonical link) without solving."""
        A = self._gather([blk.sums(blk.weights(None, mu[blk.rows])[0], None, joint=False)[0]
                          for blk in self.blocks])
        L = chol_penalised(lam, A)
        return logdet_batched(L), L

    # --- the blocked passes over the rows ----------------------------------------------------------
    def evaluate(self, lam, u, beta, out: np.ndarray) -> float:
        """μ at (u, β) into ``out`` (sorted rows); returns the kernel's sum (all PIRLS compares)."""
        total = 0.0
        for blk in self.blocks:
            mu = blk.linkinv(blk.eta(lam, u[blk.gidx], beta))
            out[blk.rows] = mu
            total += blk.kernel(mu).sum()
        return total

    def pass_sums(self, lam, u, beta, mu, joint: bool, first: bool):
        """A, B, G, XWX, Xs (:meth:`sums`) at the iterate with means ``mu``, and for the first iteration
        (``mu`` None: the family's starting means) the right-hand sides c, c_X too; None when a
        working weight is negative or a score not finite."""
        parts, XWX, Xs, cs, cX = [], None, None, [], None
        add = (lambda a, b: b if a is None else a + b)
        for blk in self.blocks:
            if first:
                y = blk.y if blk.ybin is None else blk.ybin.astype(float)
                eta = blk.fam.linkfun(blk.fam.mustart(y, np.ones(blk.n) if blk.wt is None else blk.wt))
                m = blk.linkinv(eta)
            else:
                m = mu[blk.rows]
                eta = None if self.canonical else blk.eta(lam, u[blk.gidx], beta)
            w, s = blk.weights(eta, m)
            if not (w.min() >= 0 and np.isfinite(s.sum())):
                return None
            A, B, G, xwx, xs = blk.sums(w, s, joint)
            parts.append((A, B, G))
            if xwx is not None:
                XWX, Xs = add(XWX, xwx), add(Xs, xs)
            if first:
                wzr = eta - (blk.fixed(np.zeros(self.p)) if joint else blk.fixed(beta))
                wzr *= w
                wzr += s
                c, cx = blk.rhs_from(wzr, joint)
                cs.append(c)
                cX = None if cx is None else add(cX, cx)
        A, G = self._gather([t[0] for t in parts]), self._gather([t[2] for t in parts])
        B = None if parts[0][1] is None else self._gather([t[1] for t in parts])
        return A, B, G, XWX, Xs, (self._gather(cs) if first else None), cX

    # --- the iteration -------------------------------------------------------------------------
    def rhs_at(self, lam, u, beta, A, B, G, XWX, Xs, joint):
        """c_j = A_jΛu_j (+ B_jβ) + G_j and c_X = XWX β + Σ_j B_j'Λu_j + Xs at a consistent η."""
        lu = u @ lam.T
        c = np.einsum("njk,nk->nj", A, lu) + G
        cX = None
        if joint and self.p:
            c += B @ beta
            cX = XWX @ beta + np.einsum("njp,nj->p", B, lu) + Xs
        return c, cX

    # --- the gradient of the Laplace deviance ------------------------------------------------------
    @property
    def has_gradient(self) -> bool:
        """Analytic gradient available: a canonical link of the binomial or Poisson family."""
        return self.canonical and self.fam.name in ("binomial", "poisson")

    def gradient(self, theta, u: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """∂D/∂(θ, β) of the Laplace deviance at the mode u with means ``mu`` (sorted rows): every
        term is a sum over groups, so the blocks' gradients (:meth:`_gradient`) add up."""
        return sum(blk._gradient(theta, u[blk.gidx], mu[blk.rows]) for blk in self.blocks)

    def _gradient(self, theta, u: np.ndarray, mu: np.ndarray) -> np.ndarray:
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
        Linv = inv_lower_batched(chol_penalised(lam, A))                  # M = LL', M⁻¹ = L⁻ᵀL⁻¹
        Minv = np.swapaxes(Linv, 1, 2) @ Linv
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
        g_beta = -2.0 * Xs + self._xdot(h, H) - np.einsum("njp,njk,nk->p", B, K, H) if self.p else np.zeros(0)
        P = np.einsum("njk,nk->nj", Minv, H @ lam)                       # M⁻¹Λ'H
        N = np.matmul(Minv, np.matmul(lam.T, A))                         # M⁻¹Λ'A
        T = H - 2.0 * G - np.einsum("njk,nk->nj", A, P @ lam.T)          # H − 2G − AΛP
        r, c, k = self._lam_rc
        g_theta = np.zeros(int(k.max()) + 1 if k.size else 0)
        for rr, cc, kk in zip(r, c, k):
            g_theta[kk] += np.dot(T[:, rr], u[:, cc]) + 2.0 * N[:, cc, rr].sum() + np.dot(P[:, cc], G[:, rr])
        return np.concatenate([g_theta, g_beta])
