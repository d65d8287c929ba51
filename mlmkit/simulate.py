"""Simulated multilevel data: the tutorial's three designs (R-identical) and a general simulator.

:func:`variance_components`, :func:`level_predictors` and :func:`random_slopes` reproduce the R code
of UVA StatLab's "Simulating multilevel data" (L. Jamison 2023) statement for statement with
:mod:`mlmkit.rng`, so the data frames are the ones the tutorial prints, to the last bit.

:func:`multilevel` draws two- or three-level data for teaching and power analysis (numpy's
generator; not R-identical); the true parameters and random effects travel with the data in
``df.attrs["truth"]`` (a :class:`SimulationTruth`).  Invalid input raises
:class:`mlmkit.errors.ParameterError` (``FamilyError`` for a family) saying what to change.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from .errors import FamilyError, ParameterError
from .rng import RRandom

__all__ = ["variance_components", "level_predictors", "random_slopes", "multilevel",
           "SimulationTruth"]


# ============================================================ the tutorial's designs, R-identical
def is_count(v, minimum: int = 1) -> bool:
    """Whether ``v`` is a whole number (an Integral, not a bool) >= ``minimum``."""
    return not isinstance(v, (bool, np.bool_)) and isinstance(v, Integral) and v >= minimum


def _count_arg(v, name: str, minimum: int = 1, why: str = ".") -> int:
    if not is_count(v, minimum):
        raise ParameterError(f"{name} must be a whole number >= {minimum} (got {v!r}){why}")
    return int(v)


def _tutorial_sizes(*sizes) -> tuple[int, ...]:
    why = "; the tutorial designs are balanced: every cluster has cluster_size members."
    return tuple(_count_arg(v, k, why=why) for k, v in zip(("n_clusters", "cluster_size"), sizes))


def _sd(var, name: str) -> float:
    if not isinstance(var, Real) or not np.isfinite(var) or var < 0:
        raise ParameterError(f"{name} is a variance and must be a finite number >= 0 (got {var!r}); "
                             "the standard deviation used is its square root.")
    return float(np.sqrt(var))


def _tutorial_frame(C: int, N: int, y: np.ndarray, **columns) -> pd.DataFrame:
    """``y``, ``ID <- 1:(N*C)``, ``Cluster <- rep(seq(1, C), each = N)``, then ``columns``."""
    return pd.DataFrame({"y": y, "ID": np.arange(1, N * C + 1, dtype=np.int64),
                         "Cluster": np.repeat(np.arange(1, C + 1, dtype=np.int64), N), **columns})


def variance_components(n_clusters: int = 20, cluster_size: int = 50, gamma00: float = 2.0,
                        tau2: float = 5.0, sigma2: float = 3.0, seed_u: int = 707,
                        seed_e: int = 777) -> pd.DataFrame:
    """The tutorial's variance-components data: ``y_ij = g00 + u0j + e_ij``.

    R code reproduced (``C = n_clusters``, ``N = cluster_size``)::

        set.seed(707); u0j <- rnorm(C, 0, sqrt(tau2)); u0j <- rep(u0j, each = N)
        set.seed(777); eij <- rnorm(N * C, 0, sqrt(sigma2))
        yij <- g00 + u0j + eij

    Returns the tutorial's columns ``y, ID, Cluster, eij, u0j, g00`` (``ID``, ``Cluster`` from 1);
    ``y`` starts -0.01799895, -1.55662749 and ends 3.980374 with the defaults.  Raises
    ParameterError, e.g. ``variance_components(tau2=-5)``: a variance must be >= 0.
    """
    C, N = _tutorial_sizes(n_clusters, cluster_size)
    r = RRandom(seed_u)
    u0j = np.repeat(r.rnorm(C, 0.0, _sd(tau2, "tau2")), N)
    r.set_seed(seed_e)
    eij = r.rnorm(N * C, 0.0, _sd(sigma2, "sigma2"))
    return _tutorial_frame(C, N, gamma00 + u0j + eij, eij=eij, u0j=u0j, g00=float(gamma00))


def level_predictors(n_clusters: int = 20, cluster_size: int = 50, gamma00: float = 2.0,
                     gamma01: float = 3.0, beta1: float = 4.0, tau2: float = 5.0,
                     sigma2: float = 3.0, z_sd: float = 3.0, seed_z: int = 111, seed_x: int = 555,
                     seed_u: int = 707, seed_e: int = 111) -> pd.DataFrame:
    """The tutorial's random-intercept data with a level-2 predictor ``Z`` and a level-1 predictor ``X``.

    ``y_ij = g00 + g01 Z_j + u0j + B1 X_ij + e_ij``; R code reproduced::

        set.seed(111); Zj <- rep(replicate(C, rnorm(1, 0, 3)), each = N)
        set.seed(555); X1ij <- as.vector(replicate(C, rnorm(N, 0, 1)))
        set.seed(707); u0j <- rep(rnorm(C, 0, sqrt(tau2)), each = N)
        set.seed(111); eij <- rnorm(N * C, 0, sqrt(sigma2))
        yij <- g00 + g01 * Zj + u0j + B1 * X1ij + eij

    Returns columns ``y, ID, Cluster, g00, g01, Z, u0j, B1, X, eij``; with the defaults
    ``y[0] = 0.3386258`` and ``y[999] = 6.658694`` as the tutorial prints.
    """
    C, N = _tutorial_sizes(n_clusters, cluster_size)
    r = RRandom(seed_z)
    if not isinstance(z_sd, Real) or not np.isfinite(z_sd) or z_sd < 0:
        raise ParameterError(f"z_sd is a standard deviation and must be a finite number >= 0 (got {z_sd!r}).")
    Zj = np.repeat(r.rnorm(C, 0.0, float(z_sd)), N)
    r.set_seed(seed_x)
    X = r.rnorm(N * C, 0.0, 1.0)
    r.set_seed(seed_u)
    u0j = np.repeat(r.rnorm(C, 0.0, _sd(tau2, "tau2")), N)
    r.set_seed(seed_e)
    eij = r.rnorm(N * C, 0.0, _sd(sigma2, "sigma2"))
    y = gamma00 + gamma01 * Zj + u0j + beta1 * X + eij
    return _tutorial_frame(C, N, y, g00=float(gamma00), g01=float(gamma01), Z=Zj, u0j=u0j,
                           B1=float(beta1), X=X, eij=eij)


def random_slopes(correlated: bool = False, n_clusters: int = 20, cluster_size: int = 50,
                  gamma00: float = 2.0, gamma01: float = 5.0, tau2_u0: float = 5.0,
                  tau2_u1: float = 3.0, cov_u01: float = 1.0, sigma2: float = 3.0,
                  seed_u0: int = 707, seed_u1: int = 5707, seed_e: int = 111, seed_x: int = 555,
                  seed_mvn: int = 609) -> pd.DataFrame:
    """The tutorial's random-intercept-and-slope data: ``y_ij = (g00 + u0j) + (g01 + u1j) X_ij + e_ij``.

    Independent random effects (``correlated=False``), R code reproduced::

        set.seed(707);  u0j <- rep(rnorm(C, 0, sqrt(tau2_u0)), each = N); b0j <- g00 + u0j
        set.seed(5707); u1j <- rep(rnorm(C, 0, sqrt(tau2_u1)), each = N); b1j <- g01 + u1j
        set.seed(111);  eij <- rnorm(N * C, 0, sqrt(sigma2))
        set.seed(555);  X1ij <- as.vector(replicate(C, rnorm(N, 0, 1)))
        yij <- b0j + b1j * X1ij + eij

    ``correlated=True`` replaces ``u0j, u1j`` by the tutorial's
    ``set.seed(609); u <- MASS::mvrnorm(C, c(0, 0), matrix(c(tau2_u0, cov_u01, cov_u01, tau2_u1), 2))``
    (the same ``X`` and ``eij``).

    Returns the tutorial's columns ``y, ID, Cluster, eij, u0j, g00, u1j, g01, b0j, b1j, X`` plus
    ``yij``, a copy of ``y`` (the tutorial fits ``lmer(yij ~ X + (1 + X | Cluster), data = df)``
    with ``yij`` from R's workspace).  Defaults give ``y[0] = -2.3706838``, ``y[999] = 3.1699576``
    (independent), as printed.  Raises ParameterError, e.g. ``random_slopes(True, cov_u01=5)``:
    Sigma is not positive definite (``|covariance|`` must be at most ``sqrt(tau2_u0 * tau2_u1)``).
    """
    C, N = _tutorial_sizes(n_clusters, cluster_size)
    r = RRandom(seed_u0)
    sd0, sd1 = _sd(tau2_u0, "tau2_u0"), _sd(tau2_u1, "tau2_u1")
    if correlated:
        r.set_seed(seed_mvn)
        u = r.mvrnorm(C, [0.0, 0.0], [[tau2_u0, cov_u01], [cov_u01, tau2_u1]])
        u0, u1 = u[:, 0], u[:, 1]
    else:
        u0 = r.rnorm(C, 0.0, sd0)
        r.set_seed(seed_u1)
        u1 = r.rnorm(C, 0.0, sd1)
    u0j, u1j = np.repeat(u0, N), np.repeat(u1, N)
    r.set_seed(seed_e)
    eij = r.rnorm(N * C, 0.0, _sd(sigma2, "sigma2"))
    r.set_seed(seed_x)
    X = r.rnorm(N * C, 0.0, 1.0)
    b0j, b1j = gamma00 + u0j, gamma01 + u1j
    y = b0j + b1j * X + eij
    return _tutorial_frame(C, N, y, eij=eij, u0j=u0j, g00=float(gamma00), u1j=u1j,
                           g01=float(gamma01), b0j=b0j, b1j=b1j, X=X, yij=y.copy())


# ============================================================ the general simulator
@dataclass(frozen=True, eq=False)
class SimulationTruth:
    """The parameters and random effects behind a :func:`multilevel` data set (``df.attrs["truth"]``).

    ``fixed`` (name -> value), ``re_terms`` and ``re_cov`` (the cluster-level random-effect terms
    and their covariance), ``upper_terms`` and ``upper_cov`` (the same for the upper level of a
    three-level design, else None), ``sigma2`` (Gaussian only, else None), ``family``, ``link`` and
    ``ranef``, the drawn random effects (``ranef["cluster"]`` and, for three levels,
    ``ranef["upper"]``: indexed by id, one column per term).  Copies of the DataFrame share this
    object (it is never modified), so ``pd.concat`` of pieces of one simulation keeps it.
    """

    fixed: dict
    re_terms: tuple
    re_cov: np.ndarray
    upper_terms: tuple | None
    upper_cov: np.ndarray | None
    sigma2: float | None
    family: str
    link: str
    ranef: dict = field(repr=False)

    def __deepcopy__(self, memo):      # immutable by convention: pandas' attrs copies share it
        return self


_LINKS = {"gaussian": ("identity",), "binomial": ("logit", "probit"), "poisson": ("log",)}
_PRED = re.compile(r"^[xzw][1-9][0-9]*$")


def _sizes(spec, n: int, name: str, what: str, gen: np.random.Generator) -> np.ndarray:
    """Resolve a size spec: an int (balanced), a list/array of sizes (one per unit), or a (min, max)
    tuple (sizes drawn uniformly from min..max inclusive)."""
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ParameterError(f"{name} as a tuple means a (min, max) range of {what}; got {spec!r}. "
                                 "Pass a list for one size per unit.")
        lo, hi = (_count_arg(v, f"{name} bounds") for v in spec)
        if lo > hi:
            raise ParameterError(f"{name}=(min, max) needs min <= max (got {spec!r}).")
        return gen.integers(lo, hi + 1, size=n)
    if isinstance(spec, (list, np.ndarray, pd.Series)):
        arr = np.asarray(spec)
        if arr.ndim != 1 or len(arr) != n:
            raise ParameterError(f"{name} has {arr.size} sizes but there are {n} units; give one size "
                                 f"per unit, a single number, or a (min, max) tuple.")
        if not np.issubdtype(arr.dtype, np.integer) and not np.all(arr == np.round(arr)):
            raise ParameterError(f"{name} must hold whole numbers of {what}.")
        if arr.size and arr.min() < 1:
            raise ParameterError(f"{name} must be >= 1 for every unit (got a {arr.min()}); a unit "
                                 "with no members does not exist.")
        return arr.astype(np.int64)
    return np.full(n, _count_arg(spec, name), dtype=np.int64)


def _cov(spec, terms, name: str) -> np.ndarray:
    """A covariance matrix from a scalar variance or a square matrix; checked to be a valid one."""
    S = np.array(spec, dtype=float)
    if S.ndim == 0:
        S = S.reshape(1, 1)
    q = len(terms)
    if S.shape != (q, q):
        raise ParameterError(f"{name} must be {q} x {q} for the terms {list(terms)} (got shape "
                             f"{S.shape}); give one row and column per random-effect term.")
    if not np.isfinite(S).all():
        raise ParameterError(f"{name} must hold finite numbers.")
    if (np.diag(S) < 0).any():
        raise ParameterError(f"{name} has a negative variance on its diagonal ({np.diag(S).tolist()}); "
                             "variances are >= 0 (an SD of 2 is a variance of 4).")
    if not np.allclose(S, S.T, rtol=1e-10, atol=1e-12):
        raise ParameterError(f"{name} must be symmetric: the covariance of a and b equals that of b "
                             "and a.")
    ev = np.linalg.eigvalsh(S)
    if ev.min() < -1e-10 * max(ev.max(), 1e-300):
        raise ParameterError(f"{name} is not positive semi-definite (eigenvalues "
                             f"{np.round(ev[::-1], 6).tolist()}): some correlation implied is outside "
                             "[-1, 1]; keep |cov(a, b)| <= sqrt(var(a) * var(b)).")
    return S


def cov_sqrt(S: np.ndarray) -> np.ndarray:
    """``A`` with ``A A' = S`` from the eigen decomposition, which also allows a singular ``S``."""
    ev, V = np.linalg.eigh(S)
    return V * np.sqrt(np.clip(ev, 0.0, None))


def _random(cov, terms, name: str, xs: list[str]) -> tuple[tuple, np.ndarray]:
    """Random-effect term names (given, or ``(Intercept)`` plus the first q - 1 level-1 predictors)
    and their covariance matrix, both checked."""
    if terms is None:
        q = np.atleast_2d(np.asarray(cov, dtype=float)).shape[0] if np.ndim(cov) else 1
        if q - 1 > len(xs):
            raise ParameterError(f"{name} is {q} x {q}: intercept + {q - 1} slopes, but only "
                                 f"{len(xs)} level-1 predictors (x1, ...) appear in `fixed`; add "
                                 "them there (a coefficient of 0 is fine) or pass the term names.")
        terms = ("(Intercept)", *xs[: q - 1])
    terms = tuple(terms)
    bad = [t for t in terms if t != "(Intercept)" and not (_PRED.match(t) and t[0] == "x")]
    if bad:
        raise ParameterError(f"random-effect terms must be '(Intercept)' or level-1 predictors x1, "
                             f"x2, ... (got {bad}); a cluster-level predictor cannot vary within a "
                             "cluster, so it cannot have a random slope.")
    return terms, _cov(cov, terms, name)


def multilevel(n_clusters: int = 20, cluster_size=50, *, fixed: dict | None = None,
               re_cov=1.0, re_terms=None, sigma2: float | None = None, family: str = "gaussian",
               link: str | None = None, trials: int = 1, n_upper: int | None = None,
               upper_cov=None, upper_terms=None, seed=None) -> pd.DataFrame:
    """Simulate two- or three-level data from a generalised linear mixed model.

    Model (two levels; ``j`` indexes clusters, ``i`` their members)::

        eta_ij = sum_k beta_k * pred_k,ij + sum_t u_tj * term_t,ij  (+ upper-level v_tk * term_t,ij)
        u_j ~ N(0, re_cov)                       one vector per cluster
        gaussian:  y_ij = eta_ij + e_ij,  e_ij ~ N(0, sigma2)
        binomial:  y_ij ~ Binomial(trials, logit^-1(eta_ij))   (or probit)
        poisson:   y_ij ~ Poisson(exp(eta_ij))

    Predictors are named by level and drawn independently from N(0, 1): ``x1, x2, ...`` vary within
    clusters (level 1), ``z1, ...`` are constant within a cluster (level 2), ``w1, ...`` constant
    within an upper-level unit (level 3).  Products such as ``"x1:z1"`` (a cross-level interaction)
    may appear in ``fixed``.

    Parameters
    ----------
    n_clusters, cluster_size : int, list or tuple
        Number of clusters (with ``n_upper``: *per upper-level unit*) and members per cluster: an int
        (balanced), a list with one number per upper unit / cluster, or a ``(min, max)`` tuple (each
        drawn uniformly from min..max).
    fixed : dict, optional
        Fixed effects, e.g. ``{"(Intercept)": 2, "x1": 4, "z1": 3, "x1:z1": 0.5}``; default
        ``{"(Intercept)": 0}``.  Every predictor named here becomes a column.
    re_cov, re_terms : float or (q, q) array; sequence of str, optional
        Covariance of the cluster random effects (a variance: random intercept only) and their
        names, by default ``("(Intercept)", "x1", ...)``: the intercept, the first q − 1 ``x``.
    sigma2 : float, optional
        Residual variance, Gaussian only (default 1).
    family, link : str
        ``"gaussian"``, ``"binomial"`` (``"logit"`` default or ``"probit"``), ``"poisson"`` (log).
    trials : int
        Binomial trials per row (y counts successes; 1: 0/1 data; else a ``trials`` column).
    n_upper : int, optional
        Upper-level units of a nested three-level design (e.g. schools; clusters are classes).
    upper_cov, upper_terms
        Covariance and term names of the upper-level random effects (required with ``n_upper``).
    seed : int, numpy Generator or None
        Passed to :func:`numpy.random.default_rng`.

    Returns
    -------
    DataFrame
        Columns ``y``, (``trials``), ``x1..``, ``z1..``, ``w1..``, ``cluster`` (ids 1..J, unique
        across upper units) and, for three levels, ``upper`` (ids 1..K).  ``df.attrs["truth"]``: a
        :class:`SimulationTruth` with the parameters and the drawn random effects (``.ranef``).

    Raises
    ------
    ParameterError, FamilyError
        Zero clusters, a negative variance or non-PSD covariance, sizes that do not match, an unknown
        predictor, ``sigma2`` with a non-Gaussian family, an unknown family or link...
    """
    gen = np.random.default_rng(seed)
    spec = _check_spec(fixed, re_cov, re_terms, sigma2, family, link, trials, n_upper, upper_cov, upper_terms)
    # Draws in a fixed order (sizes, predictors, random effects, response): a seed's data never change.
    units = _units(n_clusters, cluster_size, n_upper, gen)
    cols = _predictors(spec.names, units, gen)
    eta = fixed_part(spec.fixed, cols, units.n)
    levels = [("cluster", spec.re_terms, spec.S, units.J, units.cluster)]
    levels += [("upper", spec.upper_terms, spec.S3, units.K, units.upper)] if spec.three else []
    ranef = {}
    for key, terms, S, m, group in levels:
        U = gen.standard_normal((m, S.shape[0])) @ cov_sqrt(S).T        # m draws of N(0, S)
        for t, term in enumerate(terms):     # eta += U[group, t] * term_t, in place, in this order
            eta += U[group, t] if term == "(Intercept)" else U[group, t] * cols[term]
        ranef[key] = pd.DataFrame(U, columns=list(terms),
                                  index=pd.Index(np.arange(1, m + 1), name=key))
    y = _response(family, spec.link, eta, spec.sd_e, spec.trials, gen)
    return _frame(spec, units, cols, y, ranef, {key: group + 1 for key, *_, group in levels})


@dataclass(frozen=True)
class _Spec:
    """multilevel()'s arguments, checked: fixed effects, predictor names, covariances, family."""

    fixed: dict
    names: list
    re_terms: tuple
    S: np.ndarray
    upper_terms: tuple
    S3: np.ndarray | None
    family: str
    link: str
    sd_e: float
    trials: int
    sigma2: float | None

    @property
    def three(self) -> bool:
        return self.S3 is not None


def _check_spec(fixed, re_cov, re_terms, sigma2, family, link, trials, n_upper, upper_cov, upper_terms) -> _Spec:
    link, sd_e, trials = _check_family(family, link, sigma2, trials)
    fixed, preds = _check_fixed(fixed)
    three = n_upper is not None
    if not three and (upper_cov is not None or any(p[0] == "w" for p in preds)):
        raise ParameterError("upper_cov and level-3 predictors (w1, ...) need n_upper, the number "
                             "of upper-level units of a three-level design.")
    if three and upper_cov is None:
        raise ParameterError("a three-level design (n_upper given) needs upper_cov, the variance of "
                             "the upper-level random intercept (or a covariance matrix).")
    xs = sorted((p for p in preds if p[0] == "x"), key=_pred_order)
    re_terms, S = _random(re_cov, re_terms, "re_cov", xs)
    upper_terms, S3 = _random(upper_cov, upper_terms, "upper_cov", xs) if three else ((), None)
    preds.update(t for t in re_terms + upper_terms if t != "(Intercept)")
    return _Spec(fixed, sorted(preds, key=_pred_order), re_terms, S, upper_terms, S3, family, link, sd_e, trials,
                 sigma2)


def _frame(spec: _Spec, units, cols, y, ranef: dict, ids: dict) -> pd.DataFrame:
    """The simulated data set (``ids``: cluster and upper ids), its truth in ``attrs["truth"]``."""
    out = {"y": y}
    if spec.trials != 1:
        out["trials"] = np.full(units.n, spec.trials, dtype=np.int64)
    df = pd.DataFrame({**out, **{p: cols[p] for p in spec.names}, **ids})
    gaussian = spec.family == "gaussian"
    df.attrs["truth"] = SimulationTruth(
        fixed={k: float(v) for k, v in spec.fixed.items()}, re_terms=spec.re_terms, re_cov=spec.S.copy(),
        upper_terms=spec.upper_terms if spec.three else None, upper_cov=spec.S3.copy() if spec.three else None,
        sigma2=float(1.0 if spec.sigma2 is None else spec.sigma2) if gaussian else None,
        family=spec.family, link=spec.link, ranef=ranef)
    return df


def _pred_order(name: str) -> tuple:
    """x before z before w, then by number: x1, x2, x10, z1, w1."""
    return (name[0] != "x", name[0] != "z", int(name[1:]))


def _check_family(family: str, link, sigma2, trials):
    """(link, residual sd or None, trials) after checking they fit the family."""
    if family not in _LINKS:
        raise FamilyError(f"unknown family {family!r}; use one of {list(_LINKS)}.")
    link = _LINKS[family][0] if link is None else link
    if link not in _LINKS[family]:
        raise FamilyError(f"link {link!r} is not available for the {family} family; use one of "
                          f"{list(_LINKS[family])}.")
    if family != "gaussian" and sigma2 is not None:
        raise ParameterError(f"sigma2 applies only to the gaussian family; a {family} GLMM has no "
                             "separate residual variance (its variance follows from the mean).")
    sd_e = _sd(1.0 if sigma2 is None else sigma2, "sigma2") if family == "gaussian" else None
    trials = _count_arg(trials, "trials")
    if trials != 1 and family != "binomial":
        raise ParameterError("trials applies only to the binomial family.")
    return link, sd_e, trials


def _check_fixed(fixed) -> tuple[dict, set[str]]:
    """A copy of ``fixed`` (default: intercept 0) and the predictor names its products use."""
    fixed = {"(Intercept)": 0.0} if fixed is None else dict(fixed)
    preds: set[str] = set()
    for name, value in fixed.items():
        parts = [] if name == "(Intercept)" else name.split(":")
        bad = [p for p in parts if not _PRED.match(p)]
        if bad or not isinstance(value, Real) or not np.isfinite(value):
            raise ParameterError(f"fixed effect {name!r}: {value!r} -- names are '(Intercept)', "
                                 "x1, x2 (level 1), z1 (level 2), w1 (level 3) or products such as "
                                 "'x1:z1'; values finite numbers.")
        preds.update(parts)
    return fixed, preds


@dataclass(frozen=True)
class _Units:
    """The nesting: n rows, J clusters (row -> ``cluster``), K upper units (row -> ``upper``)."""
    n: int
    J: int
    K: int
    cluster: np.ndarray
    upper: np.ndarray | None


def _units(n_clusters, cluster_size, n_upper, gen) -> _Units:
    K, upper_of_cluster = 0, None
    if n_upper is not None:
        K = _count_arg(n_upper, "n_upper")
        per_upper = _sizes(n_clusters, K, "n_clusters", "clusters", gen)
        J = int(per_upper.sum())
        upper_of_cluster = np.repeat(np.arange(K), per_upper)
    else:
        J = _count_arg(n_clusters, "n_clusters")
    sizes = _sizes(cluster_size, J, "cluster_size", "members", gen)
    cl = np.repeat(np.arange(J), sizes)
    return _Units(int(sizes.sum()), J, K, cl, None if upper_of_cluster is None else upper_of_cluster[cl])


def _predictors(names, units: _Units, gen) -> dict[str, np.ndarray]:
    """Each predictor N(0, 1) at its level (x: rows, z: clusters, w: upper units), spread to rows."""
    levels = {"x": (units.n, None), "z": (units.J, units.cluster), "w": (units.K, units.upper)}
    cols = {}
    for p in names:
        m, idx = levels[p[0]]
        v = gen.standard_normal(m)
        cols[p] = v if idx is None else v[idx]
    return cols


def fixed_part(fixed: dict, cols: dict, n: int) -> np.ndarray:
    """sum_k beta_k * prod(parts of term k): the fixed part of eta."""
    eta = np.zeros(n)
    for name, beta in fixed.items():
        term = np.ones(n)
        for part in name.split(":") if name != "(Intercept)" else ():
            term = term * cols[part]
        eta += beta * term
    return eta


def _response(family: str, link: str, eta: np.ndarray, sd_e, trials: int, gen) -> np.ndarray:
    if family == "gaussian":
        return eta + sd_e * gen.standard_normal(eta.size)
    if family == "binomial":
        return gen.binomial(trials, expit(eta) if link == "logit" else ndtr(eta)).astype(np.int64)
    mu = np.exp(eta)
    if not np.isfinite(mu).all() or mu.max() > 1e15:
        raise ParameterError("the Poisson means exp(eta) overflow; make the fixed and random "
                             "effects smaller (eta is on the log scale).")
    return gen.poisson(mu).astype(np.int64)
