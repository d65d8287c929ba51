"""From formula and data to model matrices: lme4's ``lFormula`` step.

:func:`lformula` returns a :class:`Design`: the response y, the fixed-effects matrix X (built by
formulaic, with R's coefficient names), an optional offset, and one :class:`ReTerm` per random-effects
term, ordered like lme4 (decreasing number of levels).  Each term carries its grouping factor (level
labels as strings, integer codes per row) and its n × q block of Z in "long" form: ``values[i, j]`` is
column j of the term for row i, which belongs to level ``codes[i]``.

The relative covariance factor Λ(θ) is block diagonal: term k contributes one q_k × q_k lower
triangular block per level, and θ lists the lower triangles column by column, term after term.

Missing values are dropped like R's ``na.omit`` over the columns the formula uses; the caller's
DataFrame is never modified.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from .errors import DataError, FormulaError
from .formula import ParsedFormula, RandomTerm, formula_names, parse_formula, split_terms

__all__ = ["ReTerm", "Design", "lformula", "r_name", "evaluate", "factor_codes"]

_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def r_name(name: str) -> str:
    """Translate a formulaic column name into the name R prints (``f[T.b]`` -> ``fb``)."""
    if name == "Intercept":
        return "(Intercept)"
    name = re.sub(r"([A-Za-z0-9_.()]+)\[T\.([^\]]+)\]", r"\1\2", name)
    return re.sub(r"([A-Za-z0-9_.()]+)\[([^\]]+)\]", r"\1\2", name)


def _context():
    import numpy

    def scale(x):
        x = np.asarray(x, float)
        return (x - x.mean()) / x.std(ddof=1)

    return {"np": numpy, "log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs, "log10": np.log10,
            "log2": np.log2, "log1p": np.log1p, "scale": scale}


def evaluate(expr: str, data: pd.DataFrame, formula: str | None = None) -> np.ndarray | pd.Series:
    """Evaluate a response or offset expression (``m``, ``n - m``, ``np.log(size)``) on the data."""
    expr = expr.strip()
    if expr in data.columns:
        return data[expr]
    if expr.startswith("`") and expr.endswith("`") and expr[1:-1] in data.columns:
        return data[expr[1:-1]]
    env = _context()
    env.update({c: data[c] for c in data.columns if isinstance(c, str)})
    try:
        return eval(compile(expr.replace("^", "**"), "<formula>", "eval"), {"__builtins__": {}}, env)
    except Exception as exc:  # noqa: BLE001 - re-raised as a formula error quoting the expression
        raise FormulaError(f"cannot evaluate '{expr}' ({type(exc).__name__}: {exc})", formula, expr) from None


def factor_codes(values) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and string labels of a grouping variable, with R's level order.

    Numbers sort numerically and print without a trailing ``.0`` (``Cluster`` 1..20 → "1".."20");
    categoricals keep their category order (unused levels dropped, as lme4 does); text sorts as text,
    as R sorts a character column ("1", "10", "11", ... for rats' batch read as text, as the tutorial
    prints it).
    """
    s = pd.Series(values)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.cat.remove_unused_categories()
        return s.cat.codes.to_numpy(np.int64), np.array([str(c) for c in s.cat.categories], dtype=object)
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.map({False: "FALSE", True: "TRUE"})
    if pd.api.types.is_numeric_dtype(s.dtype):
        codes, uniq = pd.factorize(s.to_numpy(float), sort=True)     # hashing: faster than np.unique
        labels = [str(int(u)) if float(u).is_integer() else repr(float(u)) for u in uniq]
        return codes.astype(np.int64), np.array(labels, dtype=object)
    codes, uniq = pd.factorize(s.astype(str).to_numpy(object), sort=True)
    return codes.astype(np.int64), np.asarray(uniq, dtype=object)


@dataclass(frozen=True, eq=False)
class ReTerm:
    """One random-effects term, e.g. ``(Days | Subject)``, after parsing and evaluation."""

    term: RandomTerm
    group: str                 # grouping factor name as lme4 prints it ("Subject", "cask:batch")
    levels: np.ndarray         # level labels (str), in factor order
    codes: np.ndarray          # (n,) level index of each row
    columns: tuple[str, ...]   # R names of the term's columns ("(Intercept)", "Days")
    values: np.ndarray         # (n, q) the term's model-matrix columns
    theta_offset: int          # where this term's θ starts

    @property
    def q(self) -> int:
        return len(self.columns)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def n_theta(self) -> int:
        return self.q * (self.q + 1) // 2

    @cached_property
    def theta_lower(self) -> np.ndarray:
        """Lower bounds of this term's θ: 0 on Λ's diagonal, -inf below it (column-major order)."""
        rows, cols = self.tri_indices
        return np.where(rows == cols, 0.0, -np.inf)

    @cached_property
    def tri_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of each θ element in the term's q × q block, column-major lower triangle."""
        cols, rows = np.triu_indices(self.q)   # column-major lower triangle == row-major upper of the transpose
        return rows, cols

    def lambda_block(self, theta: np.ndarray) -> np.ndarray:
        """The q × q lower-triangular block Λ_k of this term for the full parameter vector θ."""
        lam = np.zeros((self.q, self.q))
        rows, cols = self.tri_indices
        lam[rows, cols] = theta[self.theta_offset:self.theta_offset + self.n_theta]
        return lam


@dataclass(frozen=True, eq=False)
class Design:
    """Everything a fit needs from formula and data; lme4's ``lFormula`` result."""

    formula: str
    parsed: ParsedFormula
    frame: pd.DataFrame           # the rows used, after dropping missing values (a copy)
    response: pd.DataFrame        # evaluated response: one column, or two for cbind(successes, failures)
    X: np.ndarray                 # (n, p) fixed-effects model matrix
    fixef_names: tuple[str, ...]
    offset: np.ndarray | None     # (n,) or None
    terms: tuple[ReTerm, ...]
    n_dropped: int = 0
    fixed_spec: object = field(default=None, repr=False)   # formulaic ModelSpec for new data, or None

    @property
    def nobs(self) -> int:
        return self.X.shape[0]

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @cached_property
    def y(self) -> np.ndarray:
        """The response as floats (lmer); glmer converts binomial responses itself."""
        col = self.response.iloc[:, 0]
        return col.to_numpy(float)

    @property
    def n_theta(self) -> int:
        return sum(t.n_theta for t in self.terms)

    @cached_property
    def theta_start(self) -> np.ndarray:
        """lme4's starting value: 1 on the diagonal of every Λ block, 0 below it."""
        return np.concatenate([np.where(t.theta_lower == 0, 1.0, 0.0) for t in self.terms])

    @cached_property
    def theta_lower(self) -> np.ndarray:
        return np.concatenate([t.theta_lower for t in self.terms])

    @cached_property
    def ngroups(self) -> dict[str, int]:
        out = {}
        for t in self.terms:
            out.setdefault(t.group, t.n_levels)
        return out

    @cached_property
    def structure(self):
        """The blocked random-effects structure the linear algebra works with (see :mod:`mlmkit.linalg`)."""
        from .linalg import REStructure
        return REStructure.from_terms(self.terms, self.nobs)

    def fixed_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """The fixed-effects matrix for new data (same columns and contrasts as the fit)."""
        return _fixed_matrix(self.parsed.fixed, newdata, self.parsed.formula, spec=self.fixed_spec)[0]


def _check_columns(parsed: ParsedFormula, data: pd.DataFrame) -> list[str]:
    names = formula_names(parsed.formula)
    cols = [c for c in data.columns if isinstance(c, str)]
    missing = sorted(n for n in names if n not in data.columns)
    if missing:
        name = missing[0]
        close = difflib.get_close_matches(name, cols, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else f" The data have: {', '.join(cols[:20])}."
        raise DataError(f"unknown column '{name}' in formula '{parsed.formula}'.{hint}")
    return sorted(names, key=list(data.columns).index)


def _simple_numeric_terms(rhs: str, data: pd.DataFrame) -> tuple[bool, list[str]] | None:
    """For a right-hand side made only of numeric column names, return (intercept, names); else None."""
    intercept, names = True, []
    dtypes = None
    for sign, term in split_terms(rhs):
        if term in ("0", "1"):
            intercept = (term == "1") == (sign == "+")
            continue
        if dtypes is None:
            dtypes = dict(zip(data.columns, data.dtypes))      # one lookup, not two per term
        dt = dtypes.get(term) if sign == "+" and _SIMPLE_NAME.match(term) else None
        if dt is None or not pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt):
            return None
        if term not in names:
            names.append(term)
    return intercept, names


def _fixed_matrix(rhs: str, data: pd.DataFrame, formula: str, spec=None):
    """Model matrix of a right-hand side with R's column names; formulaic handles anything beyond names."""
    simple = _simple_numeric_terms(rhs, data) if spec is None else None
    if simple is not None:
        intercept, names = simple
        cols = ([np.ones(len(data))] if intercept else []) + [data[n].to_numpy(float) for n in names]
        X = np.empty((len(data), len(cols)), order="F")      # column by column: contiguous writes
        for j, c in enumerate(cols):
            X[:, j] = c
        return X, tuple((["(Intercept)"] if intercept else []) + names), None
    from formulaic import model_matrix
    try:
        if spec is not None:
            mm = spec.get_model_matrix(data)
        else:
            mm = model_matrix(rhs, data, context=_context(), na_action="ignore")
    except Exception as exc:  # noqa: BLE001 - formulaic's errors are re-raised quoting the formula
        raise FormulaError(f"cannot build the model matrix for '{rhs}' ({type(exc).__name__}: {exc})",
                           formula, rhs) from None
    X = np.asarray(mm, dtype=float)
    return X, tuple(r_name(c) for c in mm.columns), mm.model_spec


def _check_rank(X: np.ndarray, names: tuple[str, ...], formula: str) -> None:
    """Name the columns that are linear combinations of earlier ones, the column R would drop.

    Without pivoting, R's diagonal element for column j is the norm of what is left of x_j after
    projecting it on the columns before it; (near) zero means x_j is aliased.
    """
    if X.shape[1] == 0:
        return
    # Cheap screen on X'X (p × p); the QR of X runs only when a column looks nearly aliased.
    G = X.T @ X
    d = np.sqrt(np.maximum(np.diag(G), 1e-300))
    if np.linalg.eigvalsh(G / np.outer(d, d)).min() > 1e-6:
        return
    R = np.linalg.qr(X, mode="r")
    d = np.abs(np.diag(R))
    norms = np.linalg.norm(X, axis=0)
    aliased = [names[j] for j in range(X.shape[1]) if d[j] <= 1e-7 * max(norms[j], 1e-300)]
    if aliased:
        raise DataError(f"the fixed-effects model matrix of '{formula}' is rank deficient: "
                        f"column(s) {', '.join(repr(a) for a in aliased)} are linear combinations of the columns "
                        "before them (aliased). Remove them, or check for a predictor that is constant or "
                        "duplicated in the data.")


def _grouping(term: RandomTerm, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Codes and labels of a (possibly interaction) grouping factor such as ``cask:batch``."""
    parts = [factor_codes(frame[v.strip("`")]) for v in term.group_vars]
    if len(parts) == 1:
        return parts[0]
    codes = np.zeros(len(frame), dtype=np.int64)
    for c, lab in parts:
        codes = codes * len(lab) + c
    uniq, new = np.unique(codes, return_inverse=True)
    labels = []
    for u in uniq:
        pieces = []
        for c, lab in reversed(parts):
            pieces.append(lab[u % len(lab)])
            u //= len(lab)
        labels.append(":".join(reversed(pieces)))
    return new.astype(np.int64), np.array(labels, dtype=object)


def lformula(formula: str, data: pd.DataFrame, *, check_levels: bool = True, numeric_response: bool = True,
             extra_columns: tuple[str, ...] = ()) -> Design:
    """Parse ``formula`` against ``data`` and build the model matrices (lme4's ``lFormula``).

    Parameters
    ----------
    formula : str
        An lme4 formula such as ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame
        The data; not modified.  Rows with a missing value in a column the formula uses are dropped.
    check_levels : bool
        lmer's checks: every grouping factor needs more than one level and fewer levels than
        observations (glmer allows an observation-level random effect and passes False).
    numeric_response : bool
        Require a numeric response (lmer); glmer converts its response itself.
    extra_columns : tuple of str
        Further columns whose missing values drop rows (glmer's weights, for example).

    Raises
    ------
    FormulaError, DataError
        e.g. ``DataError: unknown column 'Day' in formula 'Reaction ~ Day + (1 | Subject)'. Did you mean 'Days'?``
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    parsed = parse_formula(formula)
    if len(data) == 0:
        raise DataError("the data frame is empty: there is nothing to fit")
    used = _check_columns(parsed, data) + [c for c in extra_columns if c not in parsed.formula]
    # One pass over plain arrays: pandas' frame-wide isna()/any() costs more than the fit of a small model.
    arrays = {c: data[c].to_numpy() for c in used}
    missing = np.zeros(len(data), dtype=bool)
    for c, a in arrays.items():
        numeric = a.dtype.kind in "fc"
        missing |= np.isnan(a) if numeric else pd.isna(a)
        if numeric and np.isinf(a).any():
            raise DataError(f"column '{c}' has infinite values; remove or recode them before fitting")
    n_dropped = int(missing.sum())
    frame = data[used]
    if n_dropped:
        if n_dropped == len(data):
            raise DataError("no complete rows: every row has a missing value in a column the formula uses")
        frame = frame.loc[~missing]
    if n_dropped or not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
        frame = frame.reset_index(drop=True)

    resp = parsed.response
    m = re.fullmatch(r"cbind\((.*)\)", resp)
    if m:
        parts = _split_args(m.group(1))
        if len(parts) != 2:
            raise FormulaError("cbind() in the response takes two arguments: successes and failures",
                               formula, resp)
        response = pd.DataFrame({p.strip(): np.asarray(evaluate(p, frame, formula), float) for p in parts})
    else:
        response = pd.DataFrame({resp: evaluate(resp, frame, formula)})
    if numeric_response:
        col = response.iloc[:, 0]
        if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            raise DataError(f"the response '{resp}' must be numeric for a linear mixed model (it is "
                            f"{col.dtype}); for a binary or count response use mlmkit.glmer")

    X, names, spec = _fixed_matrix(parsed.fixed, frame, formula)
    _check_rank(X, names, formula)
    offset = None
    if parsed.offsets:
        offset = np.sum([np.asarray(evaluate(o, frame, formula), float) for o in parsed.offsets], axis=0)

    raw = []
    for term in parsed.random:
        codes, labels = _grouping(term, frame)
        values, cols, _ = _fixed_matrix(term.expr, frame, formula)
        if values.shape[1] == 0:
            raise FormulaError(f"the random-effects term '{term.source}' has no columns", formula, term.source)
        raw.append((term, codes, labels, values, cols))
    # lme4 orders terms by decreasing number of levels of their grouping factor (stable).
    raw.sort(key=lambda r: -len(r[2]))
    terms, offset_theta = [], 0
    for term, codes, labels, values, cols in raw:
        t = ReTerm(term, term.group, labels, codes, cols, values, offset_theta)
        offset_theta += t.n_theta
        if check_levels:
            if t.n_levels < 2:
                raise DataError(f"the grouping factor '{t.group}' in '{term.source}' has only one level: a "
                                "random effect needs at least two groups")
            if t.n_levels >= len(frame):
                raise DataError(f"the grouping factor '{t.group}' in '{term.source}' has as many levels "
                                f"({t.n_levels}) as observations: the random effect cannot be told apart "
                                "from the residual")
            if t.n_levels * t.q >= len(frame):
                raise DataError(f"the term '{term.source}' has {t.n_levels * t.q} random effects for "
                                f"{len(frame)} observations: too many to estimate with a residual variance")
        terms.append(t)
    return Design(formula=formula, parsed=parsed, frame=frame, response=response, X=X, fixef_names=names,
                  offset=offset, terms=tuple(terms), n_dropped=n_dropped, fixed_spec=spec)


def _split_args(text: str) -> list[str]:
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [o.strip() for o in out if o.strip()]
