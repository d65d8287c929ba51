"""Checks of the data a formula is fitted to, made before any heavy work: non-pandas frames
(:func:`as_frame`), MultiIndex, date/time and complex columns, fixed-effects designs with p >= n or
too big for memory, counted from the parsed formula before formulaic builds them
(:func:`min_fixed_terms`: ``v0*v1*...*v12`` has 2¹³ − 1 terms), and complex, overflowing or constant
responses (lme4's "Response is constant")."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["as_frame", "check_frame_columns", "check_column_types", "min_fixed_terms", "check_fixed_size",
           "check_numeric_response", "MAX_DESIGN_CELLS"]

#: largest fixed-effects matrix (rows × columns) mlmkit builds: 2·10⁸ doubles are 1.6 GB.
MAX_DESIGN_CELLS = 200_000_000
_TERM_CAP = 100_000          # stop counting terms beyond this


def as_frame(data) -> pd.DataFrame:
    """``data`` as a pandas DataFrame: as is, or via its ``to_pandas()`` (polars, pyarrow); else a DataError."""
    if isinstance(data, pd.DataFrame):
        return data
    kind = f"{type(data).__module__.split('.')[0]}.{type(data).__name__}"
    convert = getattr(data, "to_pandas", None)
    if callable(convert):
        try:
            frame = convert()
        except Exception as exc:  # noqa: BLE001 - re-raised naming the conversion
            raise DataError(f"data of type {kind} could not be converted with .to_pandas() ({exc}); convert "
                            "it to a pandas DataFrame yourself") from None
        if isinstance(frame, pd.DataFrame):
            return frame
    hint = ("pd.DataFrame(data)" if isinstance(data, (dict, list, np.ndarray)) else
            "data.to_pandas() (polars, pyarrow) or pd.DataFrame(data)")
    raise DataError(f"data must be a pandas DataFrame, not {kind}: convert it with {hint}")


def check_frame_columns(data: pd.DataFrame) -> None:
    """Column labels must be flat: a MultiIndex (e.g. from ``groupby().agg``) cannot be named in a formula."""
    if isinstance(data.columns, pd.MultiIndex):
        raise DataError("the data have MultiIndex (hierarchical) column labels, which a formula cannot name: "
                        "flatten them first, e.g. df.columns = ['_'.join(map(str, c)) for c in df.columns]")


def check_column_types(arrays: dict, grouping_only: set) -> None:
    """Date/time and complex columns cannot enter the model's numbers (grouping by a date is fine)."""
    for name, a in arrays.items():
        dt = a.dtype
        kind = getattr(dt, "kind", None)          # pandas' extension dtypes have one too (tz-aware: "M")
        if kind == "c":
            raise DataError(f"column '{name}' holds complex numbers ({dt}); a mixed model needs real numbers: "
                            f"use its real part, np.real(df['{name}']), or its modulus")
        if kind in ("M", "m") and name not in grouping_only:
            what, fix = (("dates/times", f"(df['{name}'] - df['{name}'].min()).dt.days") if kind == "M"
                         else ("time spans", f"df['{name}'].dt.total_seconds() / 86400 (days)"))
            raise DataError(f"column '{name}' holds {what} ({dt}), which cannot be a predictor or response: "
                            f"convert it to a number first, e.g. {fix}")


def _terms(node, cap: int) -> set:
    """The set of terms (each a frozenset of factors) a formula (sub)tree expands to, as formulaic does."""
    while node.kind == "paren" or (node.kind == "op" and len(node.args) == 1):
        node = node.args[0]
    if node.kind == "num":
        return set()                                             # 0/1: the intercept
    if node.kind == "op":
        left, op, right = _terms(node.args[0], cap), node.value, node.args[1]
        if op in ("^", "**") and right.kind == "num" and right.value.isdigit():
            out = set(left)
            for _ in range(max(int(right.value), 1) - 1):
                out |= {a | b for a in out for b in left}
                if len(out) > cap:
                    break
            return out
        right = _terms(right, cap)
        if op == "+":
            return left | right
        if op == "-":
            return left - right
        if op in (":", "*"):                                     # interaction; a*b = a + b + a:b
            if len(left) * len(right) > cap:
                return _many(cap)
            inter = {a | b for a in left for b in right}
            return inter if op == ":" else left | right | inter
        if op in ("/", "%in%"):                                  # a/b = a + b %in% a
            whole = frozenset().union(*left) if left else frozenset()
            return left | {whole | b for b in right}
    return {frozenset({node})}


def _many(cap: int) -> set:
    return {frozenset({i}) for i in range(cap + 1)}


def min_fixed_terms(terms) -> int:
    """Number of non-intercept terms of a fixed-effects part, its ``(sign, Node)`` terms from the parsed
    formula (a lower bound on its columns)."""
    out: set = set()
    for sign, node in terms:
        out = out - _terms(node, _TERM_CAP) if sign == "-" else out | _terms(node, _TERM_CAP)
    return len(out)


def check_fixed_size(p: int, n: int, formula: str, *, lower_bound: bool = False) -> None:
    """Refuse a fixed-effects design with p >= n columns, or one too big to build."""
    at_least = "at least " if lower_bound else ""
    if p >= n:
        raise DataError(f"the fixed effects of '{formula}' have {at_least}{p} columns for {n} observations: "
                        "a mixed model needs fewer coefficients than observations. Use fewer predictors or "
                        "interactions (a*b*c expands to all their products), or more data")
    if p * n > MAX_DESIGN_CELLS:
        raise DataError(f"the fixed-effects matrix of '{formula}' would have {at_least}{p} columns × {n} rows "
                        f"({p * n * 8 / 1e9:.1f} GB): too large; use fewer interactions")


def check_numeric_response(y: np.ndarray, name: str, formula: str) -> None:
    """A real, finite response whose squares do not overflow, and that is not constant (lme4's check)."""
    if y.dtype.kind == "c":
        raise DataError(f"the response '{name}' is complex ({y.dtype}); a mixed model needs real numbers")
    y = np.asarray(y, float)
    with np.errstate(over="ignore", invalid="ignore"):
        squares = float(np.dot(y, y))         # finite only if every value is finite and none overflows
    if not np.isfinite(squares) or squares > 1e300:
        if not np.isfinite(y).all():
            raise DataError(f"the response '{name}' has infinite or undefined values (after evaluating "
                            f"'{name}'); remove or recode them")
        raise DataError(f"the response '{name}' has values as large as {np.abs(y).max():.3g}, which overflow "
                        "double precision in the fit: rescale it (e.g. divide by a power of ten)")
    if y.size and y.min() == y.max():
        raise DataError(f"Response is constant: every value of '{name}' is {y[0]:g}, so there is no variation "
                        f"for '{formula}' to explain")

