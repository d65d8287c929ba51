"""lmer's profiled deviance at many parameter vectors at once, and a fast bounded minimiser on top.

Profiling, the parametric bootstrap and power simulations evaluate the deviance of one design
thousands of times.  One call of :meth:`mlmkit.engine.linalg.PLSSystem.factor` costs tens to hundreds of
microseconds, most of it Python overhead, so K parameter vectors are evaluated in one batch of numpy
calls (:meth:`~mlmkit.engine.linalg.PLSSystem.schur_many`: log|L|² and S = [X y]'[X y] − R'R at each θ):
the finite-difference derivatives of a d-parameter objective (about 2d² + 2d + 1 points) cost a few
evaluations' worth of time.  From those parts (r² and log|R_X|² from the Cholesky factor of S) come
the profiled criteria (:func:`mlmkit.engine.linalg.profiled_criterion`) and, for profiles in σ, the
ML deviance with σ not profiled, d(θ, σ) = ldL2 + r²/σ² + n log(2πσ²).

A large second block (InstEval) is evaluated θ by θ — same numbers, less speed.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import DataError
from .glmer_fit import optimize_glmer
from ..spec.glmresp import response_like
from .linalg import _DENSE_BLOCK2_LIMIT, PLSSystem, blas_threads, profiled_criterion
from .lmer_fit import DevFun, OptResult, mk_lmer_devfun, optimize_lmer
from .pirls import GlmerDevFun
from .profiled import schur_parts

__all__ = ["BatchDeviance", "beta_parts", "minimize_bounded", "refit", "fast_refit"]

_LOG2PI = np.log(2.0 * np.pi)


def _mode(s) -> str:
    """"one" (block 1 only), "two" (a small block 2, dense) or "loop" (θ by θ)."""
    return "one" if not s.q2 else "two" if s.q2 ** 2 * s.n1 * s.q1 <= _DENSE_BLOCK2_LIMIT else "loop"


class BatchDeviance:
    """ldL2, S, r² and ldRX2 of one design (Z from ``structure``, X, y) at K values of θ at once:
    the criteria of the module docstring over :meth:`~mlmkit.engine.linalg.PLSSystem.schur_many`
    (``system``, built here unless given)."""

    def __init__(self, structure, X: np.ndarray, y: np.ndarray, system: PLSSystem | None = None):
        self.structure = structure
        X = np.asarray(X, float)
        self.n, self.p = X.shape
        self.system = PLSSystem(structure, X, np.asarray(y, float)) if system is None else system

    @property
    def _mode(self) -> str:
        return _mode(self.structure)

    def schur(self, thetas) -> tuple[np.ndarray, np.ndarray]:
        """(ldL2 of shape (K,), S of shape (K, p+1, p+1)): S = [X y]'[X y] − Σ R'R at each θ.

        S holds everything about β at that θ: β̂ = S_XX⁻¹S_Xy, r² = S_yy − S_yX β̂, and holding
        β_j at b adds (b − β̂_j)² / (S_XX⁻¹)_jj to r² (the fixed-effect profiles).
        """
        return self.system.schur_many(thetas, batched=self._mode != "loop")

    def components(self, thetas) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ldL2, r2, ldRX2), each of shape (K,), for thetas of shape (K, n_theta)."""
        ldL2, ldRX2, r2 = schur_parts(*self.schur(thetas))
        return ldL2, r2, ldRX2

    def ml(self, thetas) -> np.ndarray:
        """ML deviance with β and σ profiled out."""
        ldL2, r2, ldRX2 = self.components(thetas)
        return profiled_criterion(ldL2, ldRX2, r2, self.n, REML=False)

    def reml(self, thetas) -> np.ndarray:
        """REML criterion with β and σ profiled out."""
        ldL2, r2, ldRX2 = self.components(thetas)
        return profiled_criterion(ldL2, ldRX2, r2, self.n - self.p, REML=True)

    def ml_fixed(self, thetas, j: int, value: float) -> np.ndarray:
        """ML deviance with β_j held at ``value`` (the others and σ profiled out).

        From the Schur complement: r²_j(θ) = r²(θ) + (value − β̂_j(θ))² / (S_XX⁻¹)_jj.
        """
        ldL2, S = self.schur(thetas)
        beta, r2, vjj = beta_parts(S)
        r2j = r2 + (value - beta[:, j]) ** 2 / vjj[:, j]
        return profiled_criterion(ldL2, 0.0, r2j, self.n, REML=False)

    def ml_sigma(self, thetas, sigma) -> np.ndarray:
        """ML deviance at (θ, σ) with only β profiled out."""
        ldL2, r2, _ = self.components(thetas)
        s2 = np.asarray(sigma, float) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            out = ldL2 + r2 / s2 + self.n * (_LOG2PI + np.log(s2))
        return np.where(s2 > 0, out, np.inf)


def beta_parts(S: np.ndarray):
    """(β̂ (K, p), r² (K,), diag(S_XX⁻¹) (K, p)) from Schur complements S (K, p+1, p+1)."""
    p = S.shape[1] - 1
    Vinv = np.linalg.inv(S[:, :p, :p])
    beta = np.einsum("kij,kj->ki", Vinv, S[:, :p, p])
    r2 = S[:, p, p] - np.einsum("ki,ki->k", S[:, :p, p], beta)
    return beta, r2, np.diagonal(Vinv, axis1=1, axis2=2)


def _stencil(d: int) -> np.ndarray:
    """Offsets (in units of the step) of a 5-point gradient and a central Hessian, plus the centre:
    0; ±eᵢ, ±2eᵢ for each i; ±eᵢ ± eⱼ for each pair j < i (the order :func:`_derivatives` reads)."""
    I = np.eye(d)
    axes = np.array([1.0, -1.0, 2.0, -2.0])[None, :, None] * I[:, None, :]
    i, j = np.tril_indices(d, -1)
    signs = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    pairs = signs[None, :, :1] * I[i][:, None] + signs[None, :, 1:] * I[j][:, None]
    return np.vstack([np.zeros((1, d)), axes.reshape(-1, d), pairs.reshape(-1, d)])


def _derivatives(F: np.ndarray, h: np.ndarray):
    """Gradient (5-point, O(h⁴)) and Hessian (central, O(h²)) from values on :func:`_stencil`."""
    d = len(h)
    f0 = F[0]
    ax = F[1:1 + 4 * d].reshape(d, 4)                      # f(+h), f(-h), f(+2h), f(-2h) per axis
    g = (8.0 * (ax[:, 0] - ax[:, 1]) - (ax[:, 2] - ax[:, 3])) / (12.0 * h)
    H = np.diag((ax[:, 0] - 2.0 * f0 + ax[:, 1]) / h ** 2)
    off = F[1 + 4 * d:].reshape(-1, 4)
    i, j = np.tril_indices(d, -1)
    H[i, j] = H[j, i] = (off[:, 0] - off[:, 1] - off[:, 2] + off[:, 3]) / (4.0 * h[i] * h[j])
    return g, H


_ALPHAS = np.array([1.0, 0.5, 0.25, 0.1, 0.03, 1e-2, 1e-3, 1e-4])


def minimize_bounded(fun_batch, x0, lower, upper, *, scale=None, rel_step: float = 1e-4,
                     ftol: float = 1e-11, maxiter: int = 100):
    """Minimise a smooth batched objective within box bounds by projected Newton steps.

    ``fun_batch(X)`` takes a (K, d) array and returns K values; it is called twice per iteration:
    once on a stencil (centre, x ± hᵢeᵢ, x ± 2hᵢeᵢ, x ± hᵢeᵢ ± hⱼeⱼ) giving the gradient to O(h⁴)
    and the Hessian to O(h²), and once on the projected Newton step scaled by several step lengths
    (backtracking done as one batch; the lowest value is taken).  Near a bound the stencil is centred at the nearest point 2h
    inside it and the gradient carried over, g(x) ≈ g(c) + H(c)(x − c), so the objective is never
    evaluated outside the box.  Coordinates at a bound whose gradient points outwards are held
    there (active set); the Hessian of the others is made positive definite by reflecting
    negative eigenvalues.  Steps are hᵢ = rel_step · max(|xᵢ|, scaleᵢ).

    Stops when the Newton decrement g'H⁻¹g/2 or the decrease of f falls below ``ftol``
    (absolute, in the objective's units — deviance units here).  Returns ``(x, f(x), calls)``.
    """
    lower = np.asarray(lower, float)
    upper = np.asarray(upper, float)
    x = np.clip(np.asarray(x0, float), lower, upper)
    d = len(x)
    if d == 0:
        return x, float(fun_batch(x[None])[0]), 1
    scale = np.ones(d) if scale is None else np.asarray(scale, float)
    E = _stencil(d)
    calls = 0

    def derivs(x):
        nonlocal calls
        h = rel_step * np.maximum(np.abs(x), scale)
        c = np.clip(x, lower + 2 * h, upper - 2 * h)
        F = fun_batch(np.vstack([c + E * h, x[None]]))
        calls += 1
        g, H = _derivatives(F[:-1], h)
        return float(F[-1]), g + H @ (x - c), H, np.all(np.isfinite(F[:-1]))

    fx, g, H, ok = derivs(x)
    if not np.isfinite(fx):
        return x, fx, calls
    for _ in range(maxiter):
        if not ok or not np.all(np.isfinite(H)):
            break
        # A coordinate stays at its bound when the gradient pushes outwards and the curvature does
        # not invite it back in (a Λ diagonal of 0 is a stationary point that may be a maximum).
        hd = np.diag(H)
        held = ((x <= lower) & (g > 0) | (x >= upper) & (g < 0)) & (hd >= 0)
        free = ~held
        if not free.any():
            break
        w, V = np.linalg.eigh(H[np.ix_(free, free)])
        wmax = max(np.abs(w).max(), 1e-8)
        gf = g[free]
        pf = -(V @ ((V.T @ gf) / np.maximum(np.abs(w), 1e-8 * wmax)))
        dirs = [pf]
        if w[0] < -1e-8 * wmax:
            # Negative curvature: also try its direction, pointing downhill and into the box.
            v = V[:, 0] * np.linalg.norm(scale[free]) * 0.1
            xf = x[free]
            if gf @ v > 0 or np.any((xf <= lower[free]) & (v < 0)) or np.any((xf >= upper[free]) & (v > 0)):
                v = -v
            dirs.append(v)
        elif 0.5 * float(-gf @ pf) < ftol:
            break
        steps = np.zeros((len(dirs) * len(_ALPHAS), d))
        steps[:, free] = np.concatenate([_ALPHAS[:, None] * p for p in dirs])
        X = np.clip(x + steps, lower, upper)
        Fs = fun_batch(X)
        calls += 1
        k = int(np.nanargmin(np.where(np.isfinite(Fs), Fs, np.nan))) if np.isfinite(Fs).any() else -1
        if k < 0 or not Fs[k] < fx:
            break
        decrease = fx - float(Fs[k])
        x, fx = X[k], float(Fs[k])
        if decrease < ftol:
            break
        fx, g, H, ok = derivs(x)
    return x, fx, calls


def refit(m, y, *, batched: bool = True, REML: bool | None = None, start=None):
    """The one refit path: fitted model ``m`` fitted again to the response ``y``, same design (lme4's ``refit``).

    lmer (``m.family`` is None): warm-started at θ̂ (or ``start``), by ``REML`` (default: as ``m``).
    ``batched=True`` minimises the batched criterion with :func:`minimize_bounded` (bootstrap, power:
    the same optimum in a fraction of the time); ``batched=False`` runs :func:`mlmkit.engine.lmer_fit.optimize_lmer`'s
    BOBYQA as :func:`mlmkit.lmer` does (:meth:`LmerResult.refit`).  glmer: the family's response
    built from ``y`` (:func:`mlmkit.spec.glmresp.response_like`) and :func:`mlmkit.engine.glmer_fit.optimize_glmer`
    from (θ̂, β̂).  No convergence check and no warnings (simulation loops check ``is_singular``
    themselves).  The result is of ``m``'s own class (a copy of ``m`` with the new fit), so this
    engine function needs no result class.

    Raises
    ------
    DataError
        when ``y`` does not have one value per observation of ``m``, or has missing values.
    """
    if m.family is not None:
        return _refit_glmer(m, y)
    y = np.asarray(y, float)
    if y.shape != (m.nobs,):
        raise DataError(f"refit needs {m.nobs} values (a response of length {m.nobs}, one per observation), "
                        f"got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise DataError("the new response has missing or infinite values")
    REML = m.REML if REML is None else bool(REML)
    d = m.design.with_response(y)
    x0 = m.theta if start is None else np.asarray(start, float)
    s = d.structure
    if not batched or _mode(s) == "loop":
        with blas_threads(s):
            devfun = mk_lmer_devfun(d, REML=REML)
            return dataclasses.replace(m, design=d, devfun=devfun, opt=optimize_lmer(devfun, start=x0, check=False))
    yy = y if d.offset is None else y - d.offset
    bd = BatchDeviance(s, d.X, yy)
    lower = d.theta_lower
    theta, fun, calls = minimize_bounded(bd.reml if REML else bd.ml, x0, lower, np.full(len(lower), np.inf))
    devfun = DevFun(d, REML, bd.system)                  # the same cross-products, not computed twice
    opt = OptResult(theta=theta, fun=fun, nfev=calls, message="projected Newton (batched)")
    return dataclasses.replace(m, design=d, devfun=devfun, opt=opt)


def _refit_glmer(m, y):
    """glmer's refit: optimize_glmer from (θ̂, β̂) on the new response."""
    devfun = GlmerDevFun(m.design, response_like(m.response, y), nAGQ=m.nAGQ)
    with blas_threads(m.design.structure):
        opt = optimize_glmer(devfun, start={"theta": m.theta, "fixef": m._beta})
    return dataclasses.replace(m, devfun=devfun, opt=opt)


def fast_refit(m, y, *, REML: bool | None = None, start=None):
    """Refit lmer result ``m`` to a new response ``y`` by the batched criterion: :func:`refit`."""
    return refit(m, y, batched=True, REML=REML, start=start)
