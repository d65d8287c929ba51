"""The family's view of a design's response (R's ``family$initialize``): y, prior weights, trials.

Constant per-row vectors (unit weights, one trial, a zero offset) are read-only broadcast views
(:func:`constant_rows`): at a million rows each would otherwise be an 8 MB array.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .design import Design
from .errors import DataError, FamilyError
from .families import Family

if TYPE_CHECKING:
    from .pirls import GlmResponse

__all__ = ["glm_response", "constant_rows", "is_constant_rows"]


def glm_response(design: Design, family: Family, weights: np.ndarray, offset: np.ndarray) -> "GlmResponse":
    """The family's view of a design's response (R's ``family$initialize``), checked.

    Binomial: ``cbind(s, f)`` gives y = s/(s + f) with prior weights (s + f)·weights; 0/1 numbers,
    booleans and two-level categoricals (the second level is success) give y in {0, 1}; proportions
    take ``weights`` as their numbers of trials.  Poisson: non-negative whole counts.

    Raises
    ------
    DataError
        e.g. ``binomial responses must be 0/1 or proportions in [0, 1], but 'y' ranges from 0 to 2``.
    FamilyError
        A ``cbind()`` response with a family other than the binomial.
    """
    w = np.asarray(weights, float)            # (a constant stays a broadcast view: see constant_rows)
    y, pw, trials = (_binomial_y if family.name == "binomial" else _poisson_y)(design, w)
    _check_not_degenerate(y, pw, family.name, design.parsed.response)
    from .pirls import GlmResponse
    return GlmResponse(family, y, pw, trials, np.asarray(offset, float))


def _check_not_degenerate(y, pw, family: str, name: str) -> None:
    """lme4's "Response is constant": all counts 0, or every binomial trial a failure (or a success)."""
    used = pw > 0
    if not used.any():
        return
    yy = y if used.all() else y[used]
    if family == "poisson" and (yy == 0).all():
        raise DataError(f"Response is constant: every count in '{name}' is 0, so the Poisson model has no finite "
                        "estimate (log of a zero rate)")
    if family == "binomial" and ((yy == 0).all() or (yy == 1).all()):
        what = "failure" if (yy == 0).all() else "success"
        raise DataError(f"Response is constant: every trial in '{name}' is a {what}, so the binomial model has "
                        "no finite estimate")


def _binomial_y(design: Design, w: np.ndarray):
    """R's ``binomial()$initialize``: proportions y, prior weights and trials from the response."""
    # the evaluated columns themselves: design.response, a DataFrame, would copy them all
    resp = list(design.response_data.values())
    name = design.parsed.response
    if len(resp) == 2:
        s, f = (np.asarray(resp[0], float), np.asarray(resp[1], float))
        if (s < 0).any() or (f < 0).any():
            bad = "successes" if (s < 0).any() else "failures"
            raise DataError(f"negative number of {bad} in '{name}' (row {int(np.flatnonzero((s < 0) | (f < 0))[0])}): "
                            "cbind() takes counts of successes and failures, e.g. cbind(m, n - m) with m <= n")
        n = s + f
        if np.any(np.abs(s - np.round(s)) > 1e-3) or np.any(np.abs(f - np.round(f)) > 1e-3):
            # R's binomial()$initialize, word for word, for a two-column response
            warnings.warn(f"non-integer counts in a binomial glm! ('{name}': cbind() takes whole numbers of "
                          "successes and failures)", UserWarning, stacklevel=5)
        y = np.divide(s, n, out=np.zeros_like(s), where=n > 0)
        return y, w * n, n
    col, plain = _plain_numbers(resp[0])
    if not plain and pd.api.types.is_bool_dtype(col.dtype):
        y = col.to_numpy(float)
    elif not plain and (isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col.dtype)):
        levels = (list(col.cat.categories[col.cat.categories.isin(col.unique())]) if isinstance(col.dtype, pd.CategoricalDtype)
                  else sorted(col.astype(str).unique()))
        if len(levels) > 2:
            raise DataError(f"the binomial response '{name}' has {len(levels)} levels {levels[:5]}: it needs two "
                            "(the first is failure, the second success); recode it, e.g. y == 'yes'")
        y = (col.astype(str) if not isinstance(col.dtype, pd.CategoricalDtype) else col).to_numpy() != levels[0]
        y = y.astype(float)
    else:
        y = np.asarray(col, float) if plain else col.to_numpy(float)      # float64 data: no copy
        if (y < 0).any() or (y > 1).any():
            raise DataError(f"binomial responses must be 0/1 or proportions in [0, 1], but '{name}' ranges from "
                            f"{y.min():g} to {y.max():g}: for counts use cbind(successes, failures) ~ ...")
    k = w * y
    if np.any(np.abs(k - np.round(k)) > 1e-3):
        warnings.warn(f"non-integer #successes in a binomial glm! ('{name}': proportions need "
                      "weights = number of trials)", UserWarning, stacklevel=5)
    return y, _own(w), constant_rows(1.0, len(y))


def _plain_numbers(values):
    """(values, True) for a numpy array of numbers, used as it is; else (a pandas Series, False)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        return values, True
    return pd.Series(values), False


def _own(w: np.ndarray) -> np.ndarray:
    """Prior weights the response may keep: a constant's read-only broadcast view as it is, else a copy."""
    return w if is_constant_rows(w) else w.copy()


def constant_rows(value: float, n: int) -> np.ndarray:
    """A constant per-row vector (unit prior weights, one trial, zero offset) as a read-only broadcast
    view: 8 bytes instead of 8 MB at a million rows, and numpy arithmetic treats it as the full vector."""
    return np.broadcast_to(np.float64(value), (n,))


def is_constant_rows(a) -> bool:
    """Whether ``a`` is a :func:`constant_rows` view (stride 0), so a whole-vector test can be skipped."""
    return isinstance(a, np.ndarray) and a.ndim == 1 and a.strides == (0,)


def _poisson_y(design: Design, w: np.ndarray):
    resp = list(design.response_data.values())
    name = design.parsed.response
    if len(resp) != 1:
        raise FamilyError(f"cbind() responses are for the binomial family, not poisson ('{name}')")
    col, plain = _plain_numbers(resp[0])
    if not plain and not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)):
        raise DataError(f"the Poisson response '{name}' must hold counts (it is {col.dtype})")
    y = np.asarray(col, float) if plain else col.to_numpy(float)
    if (y < 0).any():
        raise DataError(f"negative counts in the Poisson response '{name}' (minimum {y.min():g})")
    if np.any(np.abs(y - np.round(y)) > 1e-8):
        i = int(np.flatnonzero(np.abs(y - np.round(y)) > 1e-8)[0])
        raise DataError(f"non-integer counts in the Poisson response '{name}' (e.g. {y[i]:g} in row {i}): "
                        "the Poisson family models counts 0, 1, 2, ...")
    return y, _own(w), constant_rows(1.0, len(y))
