"""R's ``qnorm`` (lower tail, not log): Wichura (1988) algorithm AS 241, as in R's ``nmath/qnorm.c``.

R draws normal variates by inversion, so :mod:`mlmkit.rng` needs R's quantile function operation for
operation to reproduce ``rnorm`` to the last bit (scipy's ``ndtri`` differs in the last place).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["qnorm"]


def qnorm(p) -> np.ndarray:
    """Standard normal quantile of ``p`` (array_like): R's ``qnorm5(p, 0, 1, TRUE, FALSE)``.

    A rational function of ``r = 0.180625 - q^2`` for ``|q| = |p - 0.5| <= 0.425``, otherwise of
    ``r = sqrt(-log(min(p, 1 - p)))`` (two polynomial pairs, split at ``r = 5``), with ``1 - p``
    computed as ``0.5 - p + 0.5`` and the C library's ``log``, as R.  Returns ``-inf`` at 0, ``inf``
    at 1, ``nan`` outside [0, 1].
    """
    p = np.atleast_1d(np.asarray(p, dtype=float))
    out = np.full(p.shape, np.nan)
    q = p - 0.5
    central = np.abs(q) <= 0.425
    if central.any():
        qc = q[central]
        r = 0.180625 - qc * qc
        out[central] = qc * _horner(r, _A) / _horner(r, _B)
    tail = ~central & (p > 0) & (p < 1)
    if tail.any():
        qt = q[tail]
        pt = p[tail]
        small = np.where(qt > 0, 0.5 - pt + 0.5, pt)
        logs = np.fromiter(map(math.log, small.tolist()), dtype=float, count=small.size)
        r = np.sqrt(-logs)
        val = np.empty_like(r)
        near = r <= 5.0
        s = r[near] + -1.6
        val[near] = _horner(s, _C) / _horner(s, _D)
        s = r[~near] + -5.0
        val[~near] = _horner(s, _E) / _horner(s, _F)
        out[tail] = np.where(qt < 0, -val, val)
    out[p == 0] = -np.inf
    out[p == 1] = np.inf
    return out


def _horner(r: np.ndarray, coef: tuple) -> np.ndarray:
    """``(((r * c0 + c1) * r + c2) * r + ...)``: the exact operation order of R's qnorm.c."""
    v = r * coef[0] + coef[1]
    for c in coef[2:]:
        v = v * r + c
    return v


# AS 241 coefficients, highest power first, as written in R's qnorm.c
_A = (2509.0809287301226727, 33430.575583588128105, 67265.770927008700853, 45921.953931549871457,
      13731.693765509461125, 1971.5909503065514427, 133.14166789178437745, 3.387132872796366608)
_B = (5226.495278852854561, 28729.085735721942674, 39307.89580009271061, 21213.794301586595867,
      5394.1960214247511077, 687.1870074920579083, 42.313330701600911252, 1.0)
_C = (7.7454501427834140764e-4, .0227238449892691845833, .24178072517745061177,
      1.27045825245236838258, 3.64784832476320460504, 5.7694972214606914055,
      4.6303378461565452959, 1.42343711074968357734)
_D = (1.05075007164441684324e-9, 5.475938084995344946e-4, .0151986665636164571966,
      .14810397642748007459, .68976733498510000455, 1.6763848301838038494,
      2.05319162663775882187, 1.0)
_E = (2.01033439929228813265e-7, 2.71155556874348757815e-5, .0012426609473880784386,
      .026532189526576123093, .29656057182850489123, 1.7848265399172913358,
      5.4637849111641143699, 6.6579046435011037772)
_F = (2.04426310338993978564e-15, 1.4215117583164458887e-7, 1.8463183175100546818e-5,
      7.868691311456132591e-4, .0148753612908506148525, .13692988092273580531,
      .59983220655588793769, 1.0)
