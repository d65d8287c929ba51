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

The weighted least-squares step is :mod:`mlmkit.engine.wpls`.  With one grouping factor,
:meth:`GlmerDevFun.batch` runs PIRLS for many (θ, β) at once (the points of a finite-difference
Hessian) on stacked arrays.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..spec.design import Design
from ..errors import ConvergenceError
from ..spec.glmresp import GlmResponse
from .linalg import backward_solve_batched, chol_penalised, forward_solve_batched, level_sums
from .onefactor import OneFactorPLS
from .wpls import WeightedPLS, make_pls

__all__ = ["PirlsState", "GlmerDevFun", "gh_rule"]


def _irls_weights(resp, eta, mu):
    """PIRLS's working weights w = a·(dμ/dη)²/V(μ) and dμ/dη (a: prior weights); for a canonical link
    dμ/dη = V(μ), so w = a·V(μ) without forming the ratio."""
    fam = resp.family
    if fam.is_canonical:
        mu_eta = fam.variance(mu)
        return resp.weights * mu_eta, mu_eta
    mu_eta = fam.mu_eta(eta)
    return resp.weights * mu_eta ** 2 / fam.variance(mu), mu_eta


def gh_rule(k: int) -> tuple[np.ndarray, np.ndarray]:
    """K-point Gauss-Hermite rule for the standard normal density (lme4's ``GHrule``): knots, weights."""
    z, w = np.polynomial.hermite_e.hermegauss(int(k))
    return z, w / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True, eq=False)
class PirlsState:
    """The conditional mode at (θ, β) and everything the deviance and the result need from it."""

    theta: np.ndarray
    beta: np.ndarray
    u1: np.ndarray
    u2: np.ndarray | None
    eta_rows: np.ndarray | None    # η; None until first use when ``eta_fn`` computes it (see eta)
    mu: np.ndarray
    devres: np.ndarray
    ldL2: float
    L1: np.ndarray | None          # block-1 Cholesky factors at the mode (AGQ's conditional sds)
    iterations: int
    sorted_rows: bool = False      # mu in OneFactorPLS's row order (internal evaluations), eta and devres None
    devres_sum: float | None = None   # Σ devres, kept instead of devres for sorted rows
    eta_fn: object = field(default=None, repr=False)

    @property
    def eta(self) -> np.ndarray | None:
        """η in the data's order.  A large one-factor fit computes it on first use from (θ, β, u):
        the fit itself never needs it, and one n-vector fewer at its end is 8 MB at a million rows."""
        if self.eta_rows is None and self.eta_fn is not None:
            object.__setattr__(self, "eta_rows", self.eta_fn())
            object.__setattr__(self, "eta_fn", None)
        return self.eta_rows

    @property
    def sum_u2(self) -> float:
        return _sq(self.u1, self.u2)

    @property
    def dev_sum(self) -> float:
        return float(self.devres.sum()) if self.devres_sum is None else self.devres_sum


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
    tol: float = 1e-13
    maxit: int = 60
    pls: WeightedPLS = field(init=False)
    fast: OneFactorPLS | None = field(init=False, default=None, repr=False)
    _warm: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "pls", make_pls(self.design))
        if OneFactorPLS.suitable(self.design):
            object.__setattr__(self, "fast", OneFactorPLS(self.design, self.response))

    @property
    def n_theta(self) -> int:
        return self.design.n_theta

    @property
    def lower(self) -> np.ndarray:
        """Bounds of x = (θ, β): Λ's diagonal ≥ 0, everything else free."""
        return np.concatenate([self.design.theta_lower, np.full(self.design.p, -np.inf)])

    def pirls(self, theta, beta=None, tol: float | None = None, start=None, sorted_rows: bool = False
              ) -> PirlsState:
        """Conditional mode at θ with β fixed, or jointly with β when ``beta`` is None (stage 1).

        Iterates (:func:`iterate`) until the mode is accurate to ``tol`` (relative; default
        ``self.tol`` = 1e-13) and returns log|L|² computed with the weights at the returned mode, so
        that the deviance is smooth enough for finite-difference Hessians.

        ``start`` = (u1, u2) replaces the warm start (the previous mode; a large one-factor design
        first moves it to the new θ, :meth:`OneFactorPLS.rescale`).  ``sorted_rows``: the row vectors
        of a large one-factor design may stay in :class:`OneFactorPLS`'s order (for the deviance
        alone, which does not depend on the order), and η is computed on first use.

        Raises
        ------
        ConvergenceError
            When step halving cannot reduce the penalised deviance or the iterations run out.
        """
        theta = np.asarray(theta, float)
        joint = beta is None and self.design.p > 0
        beta = np.asarray(self._warm.get("beta", np.zeros(self.design.p)) if beta is None else beta, float)
        u1, u2 = (self._warm.get("u1"), self._warm.get("u2")) if start is None else start
        fast = self.fast

        def fail(what):
            return ConvergenceError(_PIRLS_HELP.format(what=what, theta=np.round(theta, 4)))
        if fast is None:
            steps = _RowSteps(self, theta, fail)
        else:
            if start is None and u1 is not None and "theta" in self._warm:
                u1 = fast.rescale(u1, self._warm["theta"], theta)
            steps = _SortedSteps(fast, theta, fail)
        # a predicted start (see _predicted) is within ~1e-8 of the mode; telling the convergence test
        # so (as if the previous step had been 1e-3) lets one Newton step finish
        (u1, u2), beta, cur, ldL2, L1, it = iterate(
            steps, None if u1 is None else (u1, u2), beta, self.tol if tol is None else tol, self.maxit,
            np.inf if start is None else 1e-3, joint, self.response.family.is_canonical, fail)
        self._warm.update(u1=u1, u2=u2, beta=beta, theta=theta)
        if fast is None:
            eta, mu, kern = cur
            return PirlsState(theta, beta, u1, u2, eta, mu, self.response.dev_const + kern, float(ldL2), L1, it)
        mu, ksum = cur
        del cur, steps
        if sorted_rows:                 # the deviance needs sums only: no η or deviance rows
            total = ksum + (0.0 if np.isscalar(fast.dev_const) else self.response.dev_const_sum)
            return PirlsState(theta, beta, u1, None, None, mu, None, float(ldL2), L1, it, True, total)
        del mu                                  # rows_at recomputes it in the data's order: one vector fewer
        lam = fast.lam(theta)
        mu, kern = fast.rows_at(lam, u1, beta)
        kern += self.response.dev_const         # the deviance rows (kern is new: in place, no other vector)
        eta_fn = functools.partial(fast.rows_eta, lam, u1, beta)
        return PirlsState(theta, beta, u1, None, None, mu, kern, float(ldL2), L1, it, eta_fn=eta_fn)

    # --- objectives ----------------------------------------------------------------------------
    def laplace(self, state: PirlsState) -> float:
        r = self.response
        mu = state.mu
        if state.sorted_rows and r.kernel_to_aic is None:
            mu = self.fast.unsort(mu)
        return float(state.ldL2 + state.sum_u2 + r.aic_from(mu, state.dev_sum - r.dev_const_sum))

    def stage1(self, theta, tol: float | None = None) -> float:
        """nAGQ = 0 objective: Laplace deviance at the joint mode (β̃, ũ) of the penalised likelihood.

        ``tol``: PIRLS tolerance; a loose one (1e-8) is enough when this only provides a start."""
        return self.laplace(self.pirls(theta, tol=tol, sorted_rows=True))

    def split(self, x) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, float)
        return x[:self.n_theta], x[self.n_theta:]

    def __call__(self, x) -> float:
        return self._value(x)[0]

    @property
    def has_gradient(self) -> bool:
        """An analytic gradient of the Laplace deviance exists (:meth:`OneFactorPLS.gradient`)."""
        return self.fast is not None and self.nAGQ == 1 and self.fast.has_gradient

    def gradient(self, x) -> np.ndarray:
        """∂(Laplace deviance)/∂(θ, β) at x, at the conditional mode (see :meth:`OneFactorPLS.gradient`)."""
        x = np.asarray(x, float)
        if "mode" not in self._warm or not np.array_equal(self._warm.get("x"), x):
            self._value(x)
        theta, _ = self.split(x)
        return self.fast.gradient(theta, *self._warm["mode"])

    def _value(self, x, start=None) -> tuple[float, PirlsState]:
        theta, beta = self.split(x)
        self._warm.pop("mode", None)          # the last point's μ: freed before PIRLS makes the new one
        state = self.pirls(theta, beta, start=start, sorted_rows=self.nAGQ <= 1)
        self._warm["x"] = np.array(x, float)
        if self.fast is not None:             # what the gradient needs at x
            self._warm["mode"] = (state.u1, state.mu if state.sorted_rows else state.mu[self.fast.order])
        return (self.laplace(state) if self.nAGQ <= 1 else self.agq(state)), state

    def _predicted(self, xs: np.ndarray) -> np.ndarray:
        """Points near the last mode one by one, each PIRLS started at a first-order prediction.

        The points of a finite-difference scheme are c + Σ dⱼeⱼ around the last point c.  Once
        c + dⱼeⱼ has been evaluated, ∂u/∂xⱼ ≈ (u(c + dⱼeⱼ) − u(c))/dⱼ, and later points start at
        u(c) + Σ dⱼ ∂u/∂xⱼ: an error O(d²) instead of O(d), which saves one PIRLS step each.
        """
        c = self._warm.get("x")
        if c is None or len(c) != xs.shape[1]:
            return np.array([self(x) for x in xs])
        uc = (self._warm["u1"], self._warm["u2"])
        centre = dict(self._warm)
        slopes, out = {}, []
        for x in xs:
            d = x - c
            nz = np.flatnonzero(d)
            start = None
            if nz.size and all(j in slopes for j in nz):
                start = (uc[0] + sum(slopes[j][0] * d[j] for j in nz),
                         None if uc[1] is None else uc[1] + sum(slopes[j][1] * d[j] for j in nz))
            value, st = self._value(x, start)
            out.append(value)
            if nz.size == 1 and nz[0] not in slopes:
                j = nz[0]
                slopes[j] = ((st.u1 - uc[0]) / d[j], None if uc[1] is None else (st.u2 - uc[1]) / d[j])
            self._warm.clear()
            self._warm.update(centre)
        return np.array(out)

    def batch(self, xs) -> np.ndarray:
        """Deviances at the rows of ``xs`` = (θ, β), e.g. the points of a finite-difference Hessian.

        With one grouping factor and the Laplace approximation, PIRLS runs for all points at once on
        stacked arrays (the per-level sums of every point in one ``bincount``), starting from the
        current mode; otherwise the points are evaluated one by one from predicted modes
        (:meth:`_predicted`).  Either way each value is converged as in :meth:`pirls`.
        """
        xs = np.atleast_2d(np.asarray(xs, float))
        if "u1" not in self._warm:
            return np.array([self(x) for x in xs])
        if self.nAGQ > 1 or self.pls.q2 or len(xs) < 3 or self.fast is not None:
            return self._predicted(xs)
        return self._laplace_batch(xs)

    def _laplace_batch(self, xs: np.ndarray) -> np.ndarray:
        """PIRLS (u only) for B points at once, single grouping factor: arrays (B, n), (B, n1, q1).

        Converged points drop out; the value is ldL2 + ‖u‖² − 2 Σ log p(y | u) as in :meth:`laplace`.
        """
        resp, fam, X, pls = self.response, self.response.family, self.design.X, self.pls
        codes, z1, n1, q1 = pls.codes1, pls.z1, pls.n1, pls.q1
        k, B = self.n_theta, len(xs)
        lam = np.stack([pls.lambdas(t)[0] for t in xs[:, :k]])                  # (B, q1, q1)
        fixed = resp.offset + xs[:, k:] @ X.T                                   # (B, n)
        u = np.array(np.broadcast_to(self._warm["u1"], (B, n1, q1)))

        def linpred(u, lam, fixed):
            b = np.matmul(u, lam.transpose(0, 2, 1))                            # (B, n1, q1)
            return fixed + np.einsum("nj,bnj->bn", z1, b[:, codes, :])

        def fail(what):
            return ConvergenceError(_PIRLS_HELP.format(what=what, theta=np.round(xs[active[0], :k], 4)))

        eta = linpred(u, lam, fixed)
        mu = fam.linkinv(eta)
        pdev = resp.kernel(mu).sum(axis=1) + (u * u).sum(axis=(1, 2))
        out = np.empty(B)
        active = np.arange(B)
        last = np.full(B, np.inf)
        for _ in range(self.maxit):
            Ba = len(active)
            w, mu_eta = _irls_weights(resp, eta, mu)
            zr = eta - fixed + (resp.y - mu) / mu_eta
            if not (w.min() >= 0 and np.isfinite(zr.sum())):
                raise fail("the means left the family's range")
            idx, size = (np.arange(Ba)[:, None] * n1 + codes).ravel(), Ba * n1     # level sums of all points
            wz = (w[..., None] * z1).reshape(-1, q1)
            A = level_sums(idx, size, wz, np.tile(z1, (Ba, 1)), symmetric=True).reshape(Ba, n1, q1, q1)
            c = level_sums(idx, size, wz, [zr.ravel()])[..., 0].reshape(Ba, n1, q1)
            L = chol_penalised(lam[:, None], A).reshape(size, q1, q1)
            r = forward_solve_batched(L, np.matmul(c, lam).reshape(size, q1))
            unew = backward_solve_batched(L, r).reshape(Ba, n1, q1)
            step = np.abs(unew - u).max(axis=(1, 2))
            scale = 1.0 + np.abs(u).max(axis=(1, 2))
            done = (step <= self.tol * scale) | ((step < 1e-10 * scale) & (step >= 0.5 * last))
            if done.any():
                ldL2 = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).reshape(Ba, -1).sum(axis=1)
                u2sum = (u[done] ** 2).sum(axis=(1, 2))
                out[active[done]] = ldL2[done] + u2sum + resp.aic_from(mu[done], pdev[done] - u2sum)
                keep = ~done
                if not keep.any():
                    return out
                active, lam, fixed, u, unew, pdev = active[keep], lam[keep], fixed[keep], u[keep], unew[keep], pdev[keep]
                step = step[keep]
            last = step
            for _ in range(30):                      # step halving, point by point
                ceta = linpred(unew, lam, fixed)
                cmu = fam.linkinv(ceta)
                cp = resp.kernel(cmu).sum(axis=1) + (unew * unew).sum(axis=(1, 2))
                bad = ~(np.isfinite(cp) & (cp <= pdev + 1e-10 * (1.0 + np.abs(cp))))
                if not bad.any():
                    break
                unew[bad] = 0.5 * (unew[bad] + u[bad])
            else:
                raise fail("step halving could not reduce the penalised deviance")
            u, eta, mu, pdev = unew, ceta, cmu, cp
        raise fail(f"no convergence in {self.maxit} iterations")

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


def iterate(steps, u, beta, tol: float, maxit: int, last_step: float, joint: bool, canonical: bool, fail):
    """PIRLS's iteration, the same for every solver: Newton steps on the penalised deviance
    Σ dᵢ + ‖u‖² with step halving, until the step is below ``tol`` relative to 1 + max|u, β|.

    ``u`` = (u1, u2) or None (start from the family's starting means).  ``steps`` supplies the
    linear algebra (:class:`_RowSteps`, :class:`_SortedSteps`): ``start()`` the first iterate,
    ``evaluate(u, β, cur)`` (penalised deviance, iterate) at (u, β) (it may reuse ``cur``'s
    buffers), ``newton(cur, u, β, joint)`` the PLS solution (u, β, log|L|², L) with the weights of
    ``cur``, ``logdet(cur)`` (log|L|², L) alone.  With a canonical link PIRLS is Newton's method
    (quadratic convergence): once the predicted error of the new iterate is below ``tol``/10, only
    log|L|² is recomputed there.  Returns (u, β, iterate, log|L|², L, iterations).
    """
    first = u is None
    pdev, cur = (np.inf, steps.start()) if first else steps.evaluate(u, beta, None)
    for it in range(1, maxit + 1):
        nu, nbeta, ldL2, L = steps.newton(cur, u, beta, joint)
        if not joint:
            nbeta = beta
        step = scale = np.inf
        if not first:
            step = max(np.abs(nu[0] - u[0]).max(), 0.0 if u[1] is None else np.abs(nu[1] - u[1]).max(),
                       np.abs(nbeta - beta).max(initial=0.0))
            scale = 1.0 + max(np.abs(u[0]).max(), np.abs(beta).max(initial=0.0))
            if step <= tol * scale or (step < 1e-10 * scale and step >= 0.5 * last_step):
                # the mode is within tol of u (or rounding stops progress), and ldL2 was computed
                # with the weights at u
                return u, beta, cur, ldL2, L, it
        halved = False
        for _ in range(30):                      # step halving on the penalised deviance
            npdev, new = steps.evaluate(nu, nbeta, cur)
            if first or (np.isfinite(npdev) and npdev <= pdev + 1e-10 * (1.0 + abs(npdev))):
                break
            halved = True
            nu = (0.5 * (nu[0] + u[0]), None if nu[1] is None else 0.5 * (nu[1] + u[1]))
            nbeta = 0.5 * (nbeta + beta)
        else:
            raise fail("step halving could not reduce the penalised deviance")
        if not np.isfinite(npdev):
            raise fail("the penalised deviance is not finite")
        u, beta, cur, pdev, first = nu, nbeta, new, npdev, False
        # Newton's error after this step is about C·step² with C = step / previous step²
        quadratic = step * step * step / (last_step * last_step) if np.isfinite(last_step) else np.inf
        last_step = step
        if canonical and not halved and quadratic < 0.1 * tol * scale:
            ldL2, L = steps.logdet(cur)
            return u, beta, cur, ldL2, L, it
    raise fail(f"no convergence in {maxit} iterations")


class _RowSteps:
    """PIRLS's steps for any design: the data's rows and the weighted PLS solver (:mod:`.wpls`);
    an iterate is (η, μ, deviance kernel)."""

    def __init__(self, devfun: GlmerDevFun, theta: np.ndarray, fail):
        self.resp, self.X, self.pls, self.theta, self.fail = devfun.response, devfun.design.X, devfun.pls, theta, fail
        self.lams = self.pls.lambdas(theta)

    def start(self):
        fam = self.resp.family
        eta = fam.linkfun(fam.mustart(self.resp.y, self.resp.weights))
        mu = fam.linkinv(eta)
        return eta, mu, self.resp.kernel(mu)

    def evaluate(self, u, beta, cur):
        eta = self.resp.offset + self.X @ beta + self.pls.Zb(self.lams, *u)
        mu = self.resp.family.linkinv(eta)
        kern = self.resp.kernel(mu)
        return kern.sum() + _sq(*u), (eta, mu, kern)

    def newton(self, cur, u, beta, joint: bool):
        """The PLS solution with the working weights and response at ``cur`` (less the offset, and
        less Xβ unless β is estimated jointly)."""
        resp, fam, (eta, mu, _) = self.resp, self.resp.family, cur
        w, mu_eta = _irls_weights(resp, eta, mu)
        zr = (eta - resp.offset if joint else eta - resp.offset - self.X @ beta) + (resp.y - mu) / mu_eta
        if not (w.min() >= 0 and np.isfinite(zr.sum())):             # NaN fails both tests
            raise self.fail(f"the {fam.link.name} link gives means outside the {fam.name} family's range")
        try:
            sol = self.pls.solve(self.theta, self.lams, w, zr, self.X if joint else None)
        except np.linalg.LinAlgError:
            raise self.fail("the weighted least-squares system is singular") from None
        return (sol.u1, sol.u2), sol.beta, sol.ldL2, sol.L1

    def logdet(self, cur):
        return self.pls.logdet(self.theta, self.lams, self.resp.weights * self.resp.family.variance(cur[1]))


class _SortedSteps:
    """PIRLS's steps for a large one-factor design (:class:`OneFactorPLS`): passes over the rows
    sorted by group; an iterate is (μ in sorted order, the deviance kernel's sum)."""

    def __init__(self, fast: OneFactorPLS, theta: np.ndarray, fail):
        self.fast, self.lam, self.fail = fast, fast.lam(theta), fail

    def start(self):
        return None, np.nan                       # the first pass starts from the family's means

    def evaluate(self, u, beta, cur):
        mu = np.empty(self.fast.n) if cur is None or cur[0] is None else cur[0]   # reuse the old μ's buffer
        ksum = self.fast.evaluate(self.lam, u[0], beta, mu)
        return ksum + (u[0] * u[0]).sum(), (mu, ksum)

    def newton(self, cur, u, beta, joint: bool):
        fast, lam, mu = self.fast, self.lam, cur[0]
        sums = fast.pass_sums(lam, None if u is None else u[0], beta, mu, joint, mu is None)
        if sums is None:
            raise self.fail(f"the {fast.fam.link.name} link gives means outside the {fast.fam.name} family's range")
        A, B, G, XWX, Xs, c, cX = sums
        if mu is not None:
            c, cX = fast.rhs_at(lam, u[0], beta, A, B, G, XWX, Xs, joint)
        try:
            nu, nbeta, ldL2, L = fast.solve(lam, A, B if joint else None, c, XWX, cX)
        except np.linalg.LinAlgError:
            raise self.fail("the weighted least-squares system is singular") from None
        return (nu, None), nbeta, ldL2, L

    def logdet(self, cur):
        return self.fast.logdet(self.lam, cur[0])


def _sq(u1, u2) -> float:
    return float((u1 * u1).sum() + (0.0 if u2 is None else (u2 * u2).sum()))


_PIRLS_HELP = ("PIRLS (the inner loop of glmer that finds the conditional modes of the random effects) failed: "
               "{what} at theta = {theta}. Try centring and scaling continuous predictors, simplifying the "
               "random-effects structure, or checking for complete separation (a group or predictor value "
               "whose responses are all 0 or all 1).")
