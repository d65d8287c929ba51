"""Grouping factors: integer codes (int32) and level labels in R's level order."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["factor_codes", "CODE_DTYPE"]

# Grouping codes: 4 bytes a row (a level count above 2³¹ would not fit in memory anyway).  Code that
# multiplies codes into larger index spaces casts to int64 first.
CODE_DTYPE = np.int32


def factor_codes(values) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and string labels of a grouping variable, with R's level order.

    Numbers sort numerically and print without a trailing ``.0`` (``Cluster`` 1..20 → "1".."20");
    categoricals keep their category order (unused levels dropped, as lme4 does); text sorts as text,
    as R sorts a character column ("1", "10", "11", ... for rats' batch read as text, as the tutorial
    prints it).
    """
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        s = pd.Series(values).cat.remove_unused_categories()
        return s.cat.codes.to_numpy(CODE_DTYPE), np.array([str(c) for c in s.cat.categories], dtype=object)
    if not isinstance(dtype, np.dtype) or dtype.kind == "b":
        s = pd.Series(values)
        if pd.api.types.is_bool_dtype(s.dtype):
            s = s.map({False: "FALSE", True: "TRUE"})
        values = s.to_numpy(float) if pd.api.types.is_numeric_dtype(s.dtype) else s.to_numpy(object)
        dtype = values.dtype
    if dtype.kind in "iu":
        dense = _dense_int_codes(values)
        if dense is not None:
            return dense
    if dtype.kind in "iuf":
        codes, uniq = _sorted_factorize(np.asarray(values, float))
        labels = [str(int(u)) if float(u).is_integer() else repr(float(u)) for u in uniq]
        return codes, np.array(labels, dtype=object)
    values = np.asarray(values, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        values = values.astype(str).astype(object)                 # mixed types: compare as text, like R
    return _sorted_factorize(values)


def _dense_int_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes and labels of integers spanning a range not much longer than the data (group ids 0..k-1,
    1..k, years), by a table over the range: no float copy and no hashing, which at a million rows cost
    more time and memory than the table.  None for sparse ids (hashed by :func:`_sorted_factorize`)."""
    n = len(values)
    if n == 0:
        return None
    lo, hi = int(values.min()), int(values.max())
    if hi - lo >= 4 * n + 1024:
        return None
    index = values if lo == 0 else np.subtract(values, lo, dtype=np.int64)    # (int64: no overflow)
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[index] = True
    rank = np.cumsum(present, dtype=CODE_DTYPE)
    rank -= 1
    labels = [str(v) for v in (np.flatnonzero(present) + lo).tolist()]
    return rank[index], np.array(labels, dtype=object)


def _sorted_factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes in sorted-level order and the sorted levels (hashing, then sorting the few levels only)."""
    codes, uniq = pd.factorize(values)
    order = np.argsort(uniq, kind="stable")
    rank = np.empty(len(order), dtype=CODE_DTYPE)
    rank[order] = np.arange(len(order))
    return rank[codes], np.asarray(uniq, dtype=uniq.dtype)[order]
