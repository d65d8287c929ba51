"""The response of a generalized linear mixed model as its family sees it (lme4's ``glmResp``).

``glmer_design`` is glmer's ``glFormula``: :func:`mlmkit.spec.design.lformula` plus the family's response
(y as proportions for the binomial, prior weights, numbers of trials, offset), checked before any
fitting.  :func:`response_like` builds a new response of the same kind for a refit.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from .design import Design, _check_levels, lformula
from ..errors import DataError, FamilyError
from .families import Family, _binomial_counts, get_family
from .validate import as_frame

__all__ = ["GlmResponse", "glm_response", "response_like", "GlmerDesign", "glmer_design", "constant_rows",
           "is_constant_rows"]

_CACHE_ROWS = 20_000
_BLOCK_ROWS, _BLOCK = 200_000, 65_536    # data size from which one-off sums go by blocks of rows


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
        if self.is_binary:     # 0/1 binomial: −2 wt log(μ or 1 − μ), one logarithm
            a, b, m2w = self._binary if len(self.y) < _CACHE_ROWS else self._binary_arrays()
            return m2w * np.log(a + b * mu)
        return self.family.dev_kernel(self.y, mu, self.weights)

    @cached_property
    def is_binary(self) -> bool:
        """A binomial response of 0/1 values (the kernel then needs one logarithm)."""
        return self.family.name == "binomial" and bool(np.all((self.y == 0) | (self.y == 1)))

    def _binary_arrays(self):
        return 1.0 - self.y, 2.0 * self.y - 1.0, -2.0 * self.weights

    @cached_property
    def _binary(self):
        """a = 1 − y, b = 2y − 1, −2 wt, kept for small data (recomputed per call beyond _CACHE_ROWS rows,
        where three more vectors would outweigh three vector operations)."""
        return self._binary_arrays()

    def _row_blocks(self):
        """Slices of at most _BLOCK rows for the one-off sums of large data (no n-long temporaries),
        or None: small data, or binomial trials above 1 (whose loglik choice of m is global)."""
        n = len(self.y)
        if n < _BLOCK_ROWS or np.any(self.trials > 1):
            return None
        return [slice(i, min(i + _BLOCK, n)) for i in range(0, n, _BLOCK)]

    def _part(self, sl) -> "GlmResponse":
        part = GlmResponse(self.family, self.y[sl], self.weights[sl], self.trials[sl], self.offset[sl])
        part.__dict__["is_binary"] = self.is_binary             # the whole response's kernel
        return part

    @cached_property
    def dev_const(self) -> np.ndarray:
        blocks = self._row_blocks()
        if blocks is None:
            mu0 = self.family.mustart(self.y, self.weights)
            return self.dev_resids(mu0) - self.kernel(mu0)
        # Rounding error only (0/1 data, whose deviance residual is its kernel, ±1e-16 apart): a zero
        # view instead of a vector, as OneFactorPLS.dev_const (the scan first, so as not to hold one)
        if all(np.abs(self._part(sl).dev_const).max(initial=0.0) <= 1e-12 for sl in blocks):
            return constant_rows(0.0, len(self.y))
        out = np.empty(len(self.y))
        for sl in blocks:
            out[sl] = self._part(sl).dev_const
        return out

    @cached_property
    def dev_const_sum(self) -> float:
        return float(self.dev_const.sum())

    @cached_property
    def _loglik(self):
        return self.family.loglik_function(self.y, self.weights, self.trials)

    def aic(self, mu):
        """−2 Σ log p(yᵢ | μᵢ) with the constants (R's ``family$aic``); one value per row of a 2-D μ."""
        return -2.0 * self._loglik(mu)

    @cached_property
    def kernel_to_aic(self) -> float | None:
        """C with aic(μ) = Σ kernel(μ) + C, or None where the two differ in μ (a binomial whose
        successes m·y are not whole numbers: R's aic rounds them, the deviance does not)."""
        blocks = self._row_blocks()
        if blocks is not None:
            parts = [self._part(sl).kernel_to_aic for sl in blocks]
            return None if any(c is None for c in parts) else float(sum(parts))
        y, wt, n = self.y, self.weights, self.trials
        if self.family.name == "binomial":
            size, k, scale = _binomial_counts(y, wt, n)
            if not (np.allclose(scale * k, wt * y, rtol=1e-12, atol=1e-12)
                    and np.allclose(scale * (size - k), wt * (1 - y), rtol=1e-12, atol=1e-12)):
                return None
        mu0 = self.family.mustart(y, wt)
        return float(self.aic(mu0) - self.kernel(mu0).sum())

    def aic_from(self, mu, kernel_sum):
        """:meth:`aic` from the kernel sum PIRLS already has (one logarithm fewer per observation)."""
        c = self.kernel_to_aic
        return self.aic(mu) if c is None else kernel_sum + c


def glm_response(design: Design, family: Family, weights: np.ndarray, offset: np.ndarray) -> GlmResponse:
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
    resp, name = list(design.response_data.values()), design.parsed.response   # not copies
    y, trials = (_binomial_y if family.name == "binomial" else _poisson_y)(resp, name, w)
    if trials is None:                        # one trial per row: prior weights as given
        pw, trials = (w if is_constant_rows(w) else w.copy()), constant_rows(1.0, len(y))
    else:
        pw = w * trials
    _check_not_degenerate(y, pw, family.name, name)
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


def _binomial_y(resp: list, name: str, w: np.ndarray):
    """R's ``binomial()$initialize``: proportions y, and trials for ``cbind(s, f)`` (else None)."""
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
        return np.divide(s, n, out=np.zeros_like(s), where=n > 0), n
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
    return y, None


def _plain_numbers(values):
    """(values, True) for a numpy array of numbers, used as it is; else (a pandas Series, False)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        return values, True
    return pd.Series(values), False


def constant_rows(value: float, n: int) -> np.ndarray:
    """A constant per-row vector (unit prior weights, one trial, zero offset) as a read-only broadcast
    view: 8 bytes instead of 8 MB at a million rows, and numpy arithmetic treats it as the full vector."""
    return np.broadcast_to(np.float64(value), (n,))


def is_constant_rows(a) -> bool:
    """Whether ``a`` is a :func:`constant_rows` view (stride 0), so a whole-vector test can be skipped."""
    return isinstance(a, np.ndarray) and a.ndim == 1 and a.strides == (0,)


def _poisson_y(resp: list, name: str, w: np.ndarray):
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
    return y, None


def response_like(resp: GlmResponse, y) -> GlmResponse:
    """``resp`` with a new response ``y`` (same family, weights, trials and offset), checked.

    ``y``: for a binomial ``cbind`` model an (n, 2) array of successes and failures or a vector of
    proportions (same trials); otherwise a vector like the original response (0/1, counts).
    """
    arr, n, family = np.asarray(y, dtype=float), len(resp.y), resp.family
    if arr.ndim == 2 and arr.shape == (n, 2):
        if family.name != "binomial":
            raise DataError("a two-column response is for binomial models")
        trials = arr.sum(axis=1)
        yy = np.divide(arr[:, 0], trials, out=np.zeros(n), where=trials > 0)
        user_w = np.divide(resp.weights, resp.trials, out=np.ones(n), where=resp.trials > 0)
        new = GlmResponse(family, yy, user_w * trials, trials, resp.offset)
    elif arr.shape == (n,):
        new = GlmResponse(family, arr, resp.weights, resp.trials, resp.offset)
    else:
        raise DataError(f"refit needs a response of length {n} (or {n} × 2 successes/failures), got shape {arr.shape}")
    if not np.all(np.isfinite(new.y)) or (new.y < 0).any() or (family.name == "binomial" and (new.y > 1).any()):
        raise DataError(f"refit: response values outside the {family.name} family's range")
    return new


@dataclass(frozen=True, eq=False)
class GlmerDesign:
    design: Design
    response: GlmResponse


def _column_or_array(value, data: pd.DataFrame, frame: pd.DataFrame, what: str):
    """A weights/offset argument as a column of ``frame``: (frame, the column of ``data`` it names),
    or an array of len(data) added as column "(weights)"/"(offset)": (frame with it, that name)."""
    if isinstance(value, str):
        if value not in data.columns:
            raise DataError(f"{what} column '{value}' is not in the data")
        dt = data[value].dtype
        if not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)):
            raise DataError(f"{what} column '{value}' must be numeric, but it holds {dt} values; convert it "
                            f"first, e.g. pd.to_numeric(df['{value}'])")
        return frame, value
    arr = np.asarray(value, dtype=float).ravel() if not isinstance(value, pd.Series) else value.to_numpy(float)
    if arr.shape != (len(data),):
        raise DataError(f"{what} has length {arr.size} but the data have {len(data)} rows: give one value per row")
    return frame.assign(**{f"({what})": arr}), f"({what})"


def glmer_design(formula: str, data: pd.DataFrame, family, weights=None, offset=None) -> GlmerDesign:
    """Parse the formula (:func:`mlmkit.spec.design.lformula`) and build the family's response.

    Raises
    ------
    FamilyError, DataError, FormulaError
        e.g. ``DataError: weights has length 10 but the data have 71 rows``.
    """
    fam = get_family(family)
    data = as_frame(data)
    frame, cols = data, {}
    for what, value in (("weights", weights), ("offset", offset)):
        if value is not None:
            frame, cols[what] = _column_or_array(value, data, frame, what)
    design = lformula(formula, frame, check_levels=False, numeric_response=False,
                      extra_columns=tuple(cols.values()))
    wcol, ocol = cols.get("weights"), cols.get("offset")
    for t in design.terms:
        _check_levels(t)
    w = constant_rows(1.0, design.nobs)
    if wcol is not None:
        w = design.frame[wcol].to_numpy(float)
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise DataError("weights must be finite and non-negative")
    off = constant_rows(0.0, design.nobs) if design.offset is None else np.asarray(design.offset, float)
    if ocol is not None:
        off = off + design.frame[ocol].to_numpy(float)
        design = design.replace(offset=off)
    return GlmerDesign(design, glm_response(design, fam, w, off))


