"""R-identical random numbers: ``set.seed``, ``runif``, ``rnorm``, ``sample`` and ``MASS::mvrnorm``.

The lessons hold every simulated data set against its R tutorial, so the draws must be the numbers
R (>= 3.6) prints, to the last bit: ``RNGkind("Mersenne-Twister", "Inversion", "Rejection")``, the
MT19937 state run by numpy's :class:`numpy.random.MT19937`; ``norm_rand()`` by inversion with R's
``qnorm`` (:mod:`mlmkit.qnorm`); ``sample()`` by R's rejection sampling of random bits.  ``RRandom``
is one stream; the module-level functions share one, like R's global ``.Random.seed``.

Errors are :class:`mlmkit.errors.ParameterError` where R would return ``NaN`` with a warning or stop,
e.g. ``rng.rnorm(3, sd=-1)`` raises ``ParameterError: rnorm: 'sd' must be >= 0 ...``.
"""
from __future__ import annotations

import inspect
import math
from array import array
from numbers import Integral, Real

import numpy as np
import scipy.linalg

from .errors import ParameterError
from .qnorm import qnorm

__all__ = [
    "RRandom", "set_seed", "runif", "rnorm", "sample", "mvrnorm", "unif_rand", "get_state",
    "set_state", "qnorm", "default_stream",
]

_TWO_M32 = 2.3283064365386963e-10          # 2^-32, R's MT_genrand scaling
_I2_32M1 = 2.328306437080797e-10           # 1/(2^32 - 1), R's fixup constant
_BIG = 134217728.0                         # 2^27, R's Inversion resolution
_RNG_KIND = 10403                          # .Random.seed[1]: Mersenne-Twister, Inversion, Rejection


# ------------------------------------------------------------ argument helpers
def _count(n, fun: str, what: str = "n") -> int:
    """R's ``n`` argument: a non-negative whole number, or a sequence whose length is used."""
    if hasattr(n, "__len__") and not isinstance(n, str):
        return len(n)
    ok = isinstance(n, Real) and not isinstance(n, (bool, np.bool_)) and math.isfinite(n)
    if not ok or n != math.floor(n) or n < 0:
        raise ParameterError(f"{fun}: '{what}' must be a whole number >= 0 (got {n!r}).")
    return int(n)


def _recycle(values, n: int, fun: str, what: str) -> np.ndarray:
    """R recycling: ``values[i % len(values)]`` for i in 0..n-1 (a copy; never the input)."""
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise ParameterError(f"{fun}: '{what}' is empty; give at least one value.")
    if np.isnan(arr).any():
        raise ParameterError(f"{fun}: '{what}' contains NaN; R would return NaN with a warning.")
    if arr.size == 1:
        return np.full(n, arr[0])
    return np.tile(arr, -(-n // arr.size))[:n]


class RRandom:
    """An independent R random-number stream (R's ``.Random.seed`` as an object), seeded as R's
    ``set.seed(seed)`` (an integer in [-2^31, 2^31)); ``None`` seeds from fresh OS entropy."""

    def __init__(self, seed: int | None = None):
        self._bitgen = np.random.MT19937(0)
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0]) - 2 ** 31
        self.set_seed(seed)

    # ---------------------------------------------------------------- state
    def set_seed(self, seed: int) -> None:
        """R's ``set.seed(seed)``: ``s <- (69069 * s + 1) mod 2^32`` fifty times, then 625 more LCG
        words ``w[0..624]``; ``w[0]`` (the position) becomes 624, ``w[1..624]`` is the MT key."""
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, Real) or not math.isfinite(seed):
            raise ParameterError(f"set_seed: the seed must be an integer, not {seed!r}.")
        seed = int(seed)              # R's as.integer truncates towards zero
        if not -2 ** 31 < seed < 2 ** 31:
            raise ParameterError(f"set_seed: seed {seed} is outside R's integer range "
                                 "(-2147483647 .. 2147483647).")
        s, words = seed & 0xFFFFFFFF, []
        for _ in range(50 + 625):         # 50 scrambles, then w[0..624]
            s = (69069 * s + 1) & 0xFFFFFFFF
            words.append(s)
        self._set_words(np.array(words[51:], dtype=np.uint32), 624)

    def _set_words(self, key: np.ndarray, pos: int) -> None:
        self._bitgen.state = {"bit_generator": "MT19937",
                              "state": {"key": np.asarray(key, dtype=np.uint32), "pos": int(pos)}}

    def get_state(self) -> np.ndarray:
        """The state as R's ``.Random.seed``: int32 array ``[10403, position, mt[0], ..., mt[623]]``."""
        st = self._bitgen.state["state"]
        key = st["key"].astype(np.uint32).view(np.int32)
        return np.concatenate([np.array([_RNG_KIND, st["pos"]], dtype=np.int32), key])

    def set_state(self, state) -> None:
        """Restore a state from :meth:`get_state` or from R's ``.Random.seed`` (626 integers).

        Raises ParameterError if the vector is not a Mersenne-Twister/Inversion/Rejection state.
        """
        arr = np.asarray(state, dtype=np.int64).ravel()
        if arr.size != 626 or arr[0] != _RNG_KIND:
            raise ParameterError("set_state: expected R's .Random.seed for RNGkind('Mersenne-Twister', "
                                 "'Inversion', 'Rejection'): 626 integers starting with 10403.")
        pos = int(arr[1]) if 0 < arr[1] <= 624 else 624      # R's FixupSeeds
        key = (arr[2:] & 0xFFFFFFFF).astype(np.uint32)
        if not key.any():
            raise ParameterError("set_state: the Mersenne-Twister state is all zeros.")
        self._set_words(key, pos)

    def copy(self) -> "RRandom":
        """An independent stream starting from this stream's current state."""
        new = RRandom(0)
        new._bitgen.state = self._bitgen.state
        return new

    # ---------------------------------------------------------------- uniform / normal
    def _raw(self, n: int) -> np.ndarray:
        return self._bitgen.random_raw(n) if n else np.empty(0, dtype=np.uint64)

    def unif_rand(self, n: int = 1) -> np.ndarray:
        """``n`` draws of R's ``unif_rand()``: ``out * 2^-32``, values ``<= 0`` or ``>= 1`` moved
        ``0.5 / (2^32 - 1)`` inside the open interval (0, 1) (R's fixup)."""
        n = _count(n, "unif_rand")
        u = self._raw(n).astype(float) * _TWO_M32
        u[u <= 0.0] = 0.5 * _I2_32M1
        u[(1.0 - u) <= 0.0] = 1.0 - 0.5 * _I2_32M1
        return u

    def _norm_rand(self, n: int) -> np.ndarray:
        """``n`` draws of ``norm_rand()``: ``qnorm((floor(2^27 u1) + u2) / 2^27)`` (Inversion)."""
        u = self.unif_rand(2 * n)
        x = np.floor(_BIG * u[0::2]) + u[1::2]
        return qnorm(x / _BIG)

    def runif(self, n, min=0.0, max=1.0) -> np.ndarray:
        """R's ``runif(n, min, max)``: ``min + (max - min) * unif_rand()``, vector min/max recycled.

        Where ``min == max`` the value is ``min`` and no random number is used (as in R).
        Raises ParameterError for non-finite bounds or ``max < min`` (R returns NaN with a warning).
        """
        n = _count(n, "runif")
        a = _recycle(min, n, "runif", "min")
        b = _recycle(max, n, "runif", "max")
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise ParameterError("runif: 'min' and 'max' must be finite.")
        if (b < a).any():
            raise ParameterError("runif: 'max' must be >= 'min' (R would return NaN with a warning).")
        out, draw = a.copy(), a != b
        out[draw] = a[draw] + (b[draw] - a[draw]) * self.unif_rand(int(draw.sum()))
        return out

    def rnorm(self, n, mean=0.0, sd=1.0) -> np.ndarray:
        """R's ``rnorm(n, mean, sd)``: ``mean + sd * norm_rand()`` with R's recycling of mean and sd.

        ``n`` may be a sequence (its length is used).  Where ``sd == 0`` or ``mean`` is infinite,
        the value is ``mean`` and no random number is used (as in R).  Raises ParameterError for an
        ``sd`` negative, infinite or NaN, e.g. ``rnorm(3, sd=-1)`` (R returns NaN with a warning).
        """
        n = _count(n, "rnorm")
        mu = _recycle(mean, n, "rnorm", "mean")
        sigma = _recycle(sd, n, "rnorm", "sd")
        bad = (sigma < 0) | ~np.isfinite(sigma)
        if bad.any():
            raise ParameterError(f"rnorm: 'sd' must be >= 0 and finite (got {sigma[bad][0]!r}); a "
                                 "standard deviation is the square root of a variance: sd=sqrt(var).")
        out, draw = mu.copy(), (sigma != 0) & np.isfinite(mu)
        out[draw] = mu[draw] + sigma[draw] * self._norm_rand(int(draw.sum()))
        return out

    # ---------------------------------------------------------------- sample
    def _attempts(self, m: int, c: int) -> np.ndarray:
        """``m`` unmasked ``rbits`` values, each built from ``c`` uniforms: ``v = 65536 v + floor(65536 u)``."""
        u = self.unif_rand(m * c).reshape(m, c)
        v1 = np.floor(u * 65536.0).astype(np.uint64)
        v = np.zeros(m, dtype=np.uint64)
        for col in range(c):
            v = v * np.uint64(65536) + v1[:, col]
        return v

    def _consume(self, snapshot, words: int) -> None:
        """Rewind to ``snapshot`` and advance exactly ``words`` outputs (undoing over-drawn chunks)."""
        self._bitgen.state = snapshot
        self._raw(words)

    def _unif_index(self, dn: int, k: int, distinct: bool = False) -> np.ndarray:
        """``k`` values of R's ``R_unif_index(dn)`` (0-based), or (``distinct``: R's ``sample2``)
        the ``k`` first distinct ones.

        ``R_unif_index``: repeat ``v = rbits(ceil(log2(dn)))`` until ``v < dn``; ``rbits`` glues
        16-bit chunks ``floor(65536 * unif_rand())``.  Vectorised chunks; surplus draws given back.
        """
        bits = (dn - 1).bit_length() if dn > 1 else 0
        c = bits // 16 + 1
        mask = np.uint64((1 << bits) - 1)
        got: list[np.ndarray] = []
        have = 0
        seen = np.empty(0, dtype=np.int64)
        while have < k:
            need = k - have
            m = int(need * (1 << bits) / dn * (1.3 if distinct else 1.1)) + 32
            snapshot = self._bitgen.state
            v = (self._attempts(m, c) & mask).astype(np.int64)
            ok = v < dn
            if distinct:                  # keep the first of each value not drawn before
                idx_ok = np.flatnonzero(ok)
                first = idx_ok[np.unique(v[idx_ok], return_index=True)[1]]
                ok = np.zeros(m, dtype=bool)
                ok[first[~np.isin(v[first], seen)]] = True
            pos = np.flatnonzero(ok)
            if pos.size >= need:
                used = int(pos[need - 1]) + 1
                self._consume(snapshot, used * c)
                pos = pos[:need]
            new = v[pos]
            got.append(new)
            have += new.size
            if distinct:
                seen = np.concatenate([seen, new])
        return np.concatenate(got) if got else np.empty(0, dtype=np.int64)

    def _sample_noreplace(self, n: int, k: int) -> np.ndarray:
        """R's ``do_sample`` without replacement: ``j = R_unif_index(n); take x[j]; x[j] = x[--n]``.

        Attempts are drawn in vectorised chunks (surplus given back), the swaps in plain Python; the
        swap array is dense for a large sample, a dict of the moved entries otherwise.
        """
        res: list[int] = []
        append = res.append
        if 4 * k < n:
            x = _Identity()                  # sparse: only moved entries are stored
        else:
            x = list(range(n)) if n <= 4_000_000 else array("q", range(n))
        dn = n
        stop_all = n - k
        while dn > stop_all:
            bits = (dn - 1).bit_length() if dn > 1 else 0
            c = bits // 16 + 1
            low = 1 << (16 * (c - 1) - 1) if c > 1 else 0     # this c serves while dn > low
            stop = max(stop_all, low)
            mask = (1 << bits) - 1
            half = 1 << (bits - 1) if bits > 0 else 0
            snapshot, used = None, 0
            while dn > stop:
                snapshot = self._bitgen.state
                vals = self._attempts(int((dn - stop) * 1.5) + 64, c).tolist()
                used = 0
                thr = max(half, stop)
                for v in vals:
                    used += 1
                    v &= mask
                    if v < dn:
                        dn -= 1
                        append(x[v])
                        x[v] = x[dn]
                        if dn <= thr:
                            if dn == stop:
                                break
                            mask >>= 1
                            half >>= 1
                            thr = max(half, stop)
            if snapshot is not None:                     # give back the unused attempts
                self._consume(snapshot, used * c)
        return np.array(res, dtype=np.int64)

    def _prob_sample(self, n: int, k: int, replace: bool, prob) -> np.ndarray:
        """R's unequal-probability sampling (``FixupProb``, then Walker alias, inversion, or
        sequential no-replacement), 0-based."""
        p = np.array(prob, dtype=float).ravel()
        if p.size != n:
            raise ParameterError(f"sample: 'prob' has {p.size} values for a population of {n} "
                                 "(R: incorrect number of probabilities).")
        if not np.isfinite(p).all():
            raise ParameterError("sample: 'prob' contains NA or infinite values.")
        if (p < 0).any():
            raise ParameterError("sample: 'prob' contains a negative probability.")
        npos = int((p > 0).sum())
        if npos == 0 or (not replace and k > npos):
            raise ParameterError("sample: too few positive probabilities for the sample size.")
        p = p / np.cumsum(p)[-1]
        if replace and int((n * p > 0.1).sum()) > 200:
            return self._walker(p, n, k)
        perm = np.arange(n)
        _revsort(p, perm)
        if replace:
            return perm[np.searchsorted(np.cumsum(p)[: n - 1], self.unif_rand(k), side="left")]
        out = np.empty(k, dtype=np.int64)
        total = 1.0
        for i, u in enumerate(self.unif_rand(k)):
            n1 = n - 1 - i
            target = total * u
            j = int(np.searchsorted(np.cumsum(p[:n1]), target, side="left"))
            out[i] = perm[j]
            total -= p[j]
            p = np.delete(p, j)
            perm = np.delete(perm, j)
        return out

    def _walker(self, p: np.ndarray, n: int, k: int) -> np.ndarray:
        """Walker's alias method as R's ``walker_ProbSampleReplace`` (Ripley 1987, Alg 3.13B): each
        draw is ``k = R_unif_index(n)``, ``u = k + unif_rand()``, then ``k`` if ``u < q[k] + k``,
        else its alias."""
        q = (p * n).tolist()
        small = [i for i in range(n) if q[i] < 1.0]            # HL[0 .. H): q < 1, in order
        hl = small + [i for i in range(n - 1, -1, -1) if q[i] >= 1.0]   # then q >= 1, reversed
        low = len(small)
        a = [0] * n
        if 0 < low < n:
            for kk in range(n - 1):
                i, j = hl[kk], hl[low]
                a[i] = j
                q[j] += q[i] - 1
                if q[j] < 1.0:
                    low += 1
                if low >= n:
                    break
        qa = (np.array(q) + np.arange(n)).tolist()
        # The two kinds of draws interleave: read uniforms from a buffer drawn in chunks, give back
        # those left over at the end.
        bits = (n - 1).bit_length() if n > 1 else 0
        c = bits // 16 + 1
        mask = (1 << bits) - 1
        snapshot = self._bitgen.state
        buf: list[float] = []
        pos = drawn = 0
        out = np.empty(k, dtype=np.int64)
        for i in range(k):
            while True:
                if pos + c + 1 > len(buf):
                    more = 2 * (k - i) * (c + 1) + 16
                    buf = buf[pos:] + self.unif_rand(more).tolist()
                    drawn += more
                    pos = 0
                v = 0
                for m in range(c):
                    v = 65536 * v + int(buf[pos + m] * 65536.0)
                pos += c
                v &= mask
                if v < n:
                    break
            ru = v + buf[pos]
            pos += 1
            out[i] = v if ru < qa[v] else a[v]
        self._consume(snapshot, drawn - (len(buf) - pos))
        return out

    def sample(self, x, size=None, replace: bool = False, prob=None) -> np.ndarray:
        """R's ``sample(x, size, replace = FALSE, prob = NULL)`` (R >= 3.6, "Rejection").

        ``x`` is a number ``n >= 1`` (meaning ``1:n``, as in R) or the population itself (list,
        array, Series); ``size`` defaults to the population size (a permutation); ``prob`` holds
        weights (normalised like R's ``FixupProb``; with replacement Walker's alias method when
        more than 200 weights exceed ``0.1 / n``, else inversion).  Returns an ndarray of the
        sampled items.  Raises ParameterError, e.g. ``sample(5, 10)``: cannot take a sample larger
        than the population when replace=False.
        """
        if isinstance(x, (Integral, Real)) and not isinstance(x, (bool, np.bool_)) \
                and math.isfinite(x) and x >= 1:
            pop, n = None, int(x)
        else:
            pop = np.asarray(x.to_numpy() if hasattr(x, "to_numpy") else x)
            if pop.ndim == 0:
                pop = pop.reshape(1)
            n = len(pop)
        k = n if size is None else _count(size, "sample", "size")
        if not replace and k > n:
            raise ParameterError(f"sample: cannot take a sample larger than the population ({k} > {n}) "
                                 "when replace=False; use replace=True to draw with replacement.")
        if n == 0 and k > 0:
            raise ParameterError("sample: the population is empty.")
        if prob is not None:
            idx = self._prob_sample(n, k, bool(replace), prob)
        elif not replace and n > 1e7 and k <= n / 2:
            idx = self._unif_index(n, k, distinct=True)          # R's sample2 (hash)
        elif replace or k < 2:
            idx = self._unif_index(n, k)
        else:
            idx = self._sample_noreplace(n, k)
        return idx + 1 if pop is None else pop[idx]

    # ---------------------------------------------------------------- mvrnorm
    def mvrnorm(self, n, mu, Sigma, tol: float = 1e-6) -> np.ndarray:
        """``MASS::mvrnorm(n, mu, Sigma)``: ``t(mu + V %*% diag(sqrt(pmax(ev, 0))) %*% t(X))``.

        As MASS 7.3: ``V``, ``ev`` from ``eigen(Sigma, symmetric = TRUE)`` (LAPACK ``dsyevr``),
        ``X <- matrix(rnorm(p * n), n)`` filled column by column, products summed in reference-BLAS
        order.  Returns shape ``(n, p)``, 2-D also for ``n = 1``.  Raises ParameterError for a
        ``Sigma`` not ``p x p``, not symmetric or not positive semi-definite (an eigenvalue below
        ``-tol * |largest eigenvalue|``), e.g. ``mvrnorm(20, [0, 0], [[1, 2], [2, 1]])``.
        """
        n = _count(n, "mvrnorm")
        mu = np.array(mu, dtype=float).ravel()
        p = mu.size
        S = np.array(Sigma, dtype=float)
        if S.ndim == 0 and p == 1:
            S = S.reshape(1, 1)
        if S.shape != (p, p):
            raise ParameterError(f"mvrnorm: Sigma must be {p} x {p} to match mu (got shape {S.shape}).")
        if not np.isfinite(S).all() or not np.isfinite(mu).all():
            raise ParameterError("mvrnorm: mu and Sigma must be finite.")
        if not np.allclose(S, S.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(S).max())):
            raise ParameterError("mvrnorm: Sigma must be symmetric (a covariance matrix has "
                                 "Sigma[i, j] == Sigma[j, i]).")
        ev, V = scipy.linalg.eigh(S, lower=True, driver="evr")
        ev, V = ev[::-1], V[:, ::-1]
        if not (ev >= -tol * abs(ev[0])).all():
            raise ParameterError(f"mvrnorm: Sigma is not positive (semi-)definite: eigenvalues "
                                 f"{np.round(ev, 6).tolist()}.  Check that each |covariance| is at "
                                 "most sqrt(var_i * var_j), i.e. every correlation is in [-1, 1].")
        A = V * np.sqrt(np.maximum(ev, 0.0))          # V %*% diag(sqrt(ev)), exact
        X = self.rnorm(p * n).reshape(p, n)           # row l of X' = column l of R's X
        M = np.zeros((p, n))
        for col in range(p):                          # reference dgemm order: sum over l in turn
            M = M + A[:, [col]] * X[[col], :]
        return (mu[:, None] + M).T


class _Identity(dict):
    """A sparse swap array: entries never written read as their own index."""

    def __missing__(self, key):
        return key


def _revsort(a: np.ndarray, ib: np.ndarray) -> None:
    """R's ``revsort``, line by line (ties end in R's order): heapsort ``a`` into decreasing order
    in place, permuting ``ib`` alongside."""
    n = a.size
    if n <= 1:
        return
    av = [0.0] + a.tolist()
    bv = [0] + ib.tolist()
    l = (n >> 1) + 1
    ir = n
    while True:
        if l > 1:
            l -= 1
            ra, ii = av[l], bv[l]
        else:
            ra, ii = av[ir], bv[ir]
            av[ir], bv[ir] = av[1], bv[1]
            ir -= 1
            if ir == 1:
                av[1], bv[1] = ra, ii
                break
        i, j = l, l << 1
        while j <= ir:
            if j < ir and av[j] > av[j + 1]:
                j += 1
            if ra > av[j]:
                av[i], bv[i] = av[j], bv[j]
                i = j
                j += j
            else:
                j = ir + 1
        av[i], bv[i] = ra, ii
    a[:] = av[1:]
    ib[:] = bv[1:]


# ------------------------------------------- the module-level stream, like R's global .Random.seed
_DEFAULT = RRandom()


def default_stream() -> RRandom:
    """The shared stream used by the module-level functions (R's global ``.Random.seed``)."""
    return _DEFAULT


def _on_shared_stream(name: str):
    """Module-level twin of ``RRandom.<name>`` acting on the shared stream (same signature and docs)."""
    method = getattr(RRandom, name)

    def function(*args, **kwargs):
        return getattr(_DEFAULT, name)(*args, **kwargs)

    sig = inspect.signature(method)
    function.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"On the shared stream (R's global ``.Random.seed``): {method.__doc__}"
    return function


set_seed, runif, rnorm, sample, mvrnorm, unif_rand, get_state, set_state = map(_on_shared_stream, (
    "set_seed", "runif", "rnorm", "sample", "mvrnorm", "unif_rand", "get_state", "set_state"))
