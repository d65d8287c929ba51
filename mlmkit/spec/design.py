"""From formula and data to model matrices: lme4's ``lFormula`` step.

:func:`lformula` returns a :class:`Design`: the response, the fixed-effects matrix X (R's
coefficient names), an optional offset, and one :class:`ReTerm` per random-effects term in lme4's
order, each with its grouping factor and its n × q block of Z in "long" form (``values[i, j]`` is
column j for row i, of level ``codes[i]``).  Λ(θ) has one q_k × q_k lower triangular block per level
of term k; θ lists the lower triangles column by column, term after term.  Missing values are
dropped like R's ``na.omit`` over the columns the formula uses; the caller's DataFrame is never
modified.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..errors import DataError, FormulaError
from .factors import CODE_DTYPE, factor_codes
from .safe_eval import EVAL_FUNCTIONS, safe_evaluate
from .validate import (
    as_frame,
    check_column_types,
    check_fixed_size,
    check_frame_columns,
    check_numeric_response,
)
from .formula import ParsedFormula, RandomTerm, Terms, parse_expression, parse_formula

__all__ = ["ReTerm", "ModelStructure", "Response", "Design", "lformula", "r_name", "evaluate", "factor_codes"]

_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def r_name(name: str) -> str:
    """Translate a formulaic column name into the name R prints (``f[T.b]`` -> ``fb``)."""
    if name == "Intercept":
        return "(Intercept)"
    name = re.sub(r"([A-Za-z0-9_.()]+)\[T\.([^\]]+)\]", r"\1\2", name)
    return re.sub(r"([A-Za-z0-9_.()]+)\[([^\]]+)\]", r"\1\2", name)


def _context():
    """The functions formulaic may call besides its own (``log``, ``np.log``, R's ``scale``)."""
    return {"np": np, "numpy": np, **{k: EVAL_FUNCTIONS[k] for k in
                                      ("log", "exp", "sqrt", "abs", "log10", "log2", "log1p", "scale")}}


def _as_array(col: pd.Series):
    """A column's values: a numpy array, or pandas' extension array (categorical, nullable) as is."""
    return col.to_numpy() if isinstance(col.dtype, np.dtype) else col.array


class Columns(Mapping):
    """The model frame's columns as arrays; a pandas DataFrame is built only when something needs
    one (pandas' per-call overhead was most of a small model's formula step).  ``Columns.of(df)``
    wraps a DataFrame, reading its columns on first use."""

    def __init__(self, arrays: dict, nrows: int, frame: pd.DataFrame | None = None):
        self._arrays, self.nrows, self._frame = dict(arrays), int(nrows), frame

    @classmethod
    def of(cls, data) -> "Columns":
        return data if isinstance(data, Columns) else cls({}, len(data), frame=data)

    def __getitem__(self, name):
        try:
            return self._arrays[name]
        except KeyError:
            if self._frame is None or name not in self._frame.columns:
                raise
            self._arrays[name] = a = _as_array(self._frame[name])
            return a

    def __contains__(self, name) -> bool:
        return name in self._arrays if self._frame is None else name in self._frame.columns

    def __iter__(self):
        return iter(self._arrays if self._frame is None else self._frame.columns)

    def __len__(self) -> int:
        return len(self._arrays) if self._frame is None else self._frame.shape[1]

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = pd.DataFrame(self._arrays, index=pd.RangeIndex(self.nrows))
        return self._frame


def evaluate(expr, data, formula: str | None = None, text: str | None = None):
    """Evaluate a response or offset expression (``m``, ``n - m``, ``np.log(size)``) on the data.

    ``expr``: the expression's text, or its node in a parsed formula whose spans index ``text``.
    ``data`` is a DataFrame or :class:`Columns`; a bare column name returns that column's values.
    """
    cols = Columns.of(data)
    if isinstance(expr, str):
        expr = expr.strip()
        if expr in cols:
            return cols[expr]
        if expr.startswith("`") and expr.endswith("`") and expr[1:-1] in cols:
            return cols[expr[1:-1]]
        text, expr = expr, parse_expression(expr)
    return safe_evaluate(expr, text, cols, formula)


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
class ModelStructure:
    """What a fit needs from formula and data besides the response (lme4's ``X`` and ``reTrms``): the
    parsed formula, X, the random-effects terms (Z, Λ template) and the rows kept.  Every refit to a
    new response shares it, and with it X, Z and their cached structure."""

    formula: str
    parsed: ParsedFormula
    columns: Columns              # the used columns of the rows kept after dropping missing values
    X: np.ndarray                 # (n, p) fixed-effects model matrix
    fixef_names: tuple[str, ...]
    terms: tuple[ReTerm, ...]
    n_dropped: int = 0
    fixed_spec: object = field(default=None, repr=False)   # formulaic ModelSpec for new data, or None

    @property
    def nobs(self) -> int:
        return self.X.shape[0]

    @property
    def frame(self) -> pd.DataFrame:
        """The rows used (after dropping missing values), as a DataFrame with a 0..n-1 index."""
        return self.columns.frame

    @property
    def p(self) -> int:
        return self.X.shape[1]

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
        return {t.group: t.n_levels for t in self.terms}      # terms on one factor: the same levels

    @cached_property
    def structure(self):
        """The blocked random-effects structure the linear algebra works with (see :mod:`mlmkit.engine.linalg`)."""
        from .reterms import REStructure
        return REStructure.from_terms(self.terms, self.nobs)

    def fixed_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """The fixed-effects matrix for new data (same columns and contrasts as the fit)."""
        return _fixed_matrix(self.parsed.fixed, newdata, self.parsed.formula, spec=self.fixed_spec)[0]


@dataclass(frozen=True, eq=False)
class Response:
    """The response of one fit: evaluated column(s) and offset (lme4's ``fr`` response part)."""

    response_data: dict           # evaluated response: {name: values}, two entries for cbind(s, f)
    offset: np.ndarray | None     # (n,) or None

    @property
    def response_name(self) -> str:
        return next(iter(self.response_data))

    @cached_property
    def y(self) -> np.ndarray:
        """The response as floats (lmer); glmer converts binomial responses itself."""
        return np.asarray(self.response_data[self.response_name], dtype=float)

    @cached_property
    def response(self) -> pd.DataFrame:
        """The evaluated response as a DataFrame (two columns for ``cbind(successes, failures)``)."""
        values = next(iter(self.response_data.values()))
        return pd.DataFrame(self.response_data, index=pd.RangeIndex(len(values)))


@dataclass(frozen=True, eq=False)
class Design:
    """lme4's ``lFormula`` result: the response-free :class:`ModelStructure` and the :class:`Response`.

    ``d.X``, ``d.terms``, ``d.structure``, ... read the model part, ``d.y``, ``d.offset``, ... the
    response (the properties below are generated from :data:`_MODEL` and :data:`_RESPONSE`)."""

    model: ModelStructure
    resp: Response

    def with_response(self, y: np.ndarray) -> "Design":
        """The same model (X, Z, structure shared, not copied) with a new response column."""
        return Design(self.model, Response({self.resp.response_name: y}, self.resp.offset))

    def replace(self, **changes) -> "Design":
        """A copy with some fields of the model or response part changed (``terms=``, ``offset=``)."""
        model = {k: v for k, v in changes.items() if k not in _RESPONSE}
        resp = {k: v for k, v in changes.items() if k in _RESPONSE}
        return Design(dataclasses.replace(self.model, **model) if model else self.model,
                      dataclasses.replace(self.resp, **resp) if resp else self.resp)


_MODEL = ("formula", "parsed", "columns", "X", "fixef_names", "terms", "n_dropped", "fixed_spec", "nobs", "frame",
          "p", "n_theta", "theta_start", "theta_lower", "ngroups", "structure", "fixed_matrix")
_RESPONSE = ("response_data", "offset", "response_name", "y", "response")
for _part, _names in (("model", _MODEL), ("resp", _RESPONSE)):
    for _name in _names:
        setattr(Design, _name, property(lambda self, p=_part, n=_name: getattr(getattr(self, p), n),
                                        doc=f"``{_part}.{_name}``"))


def _check_columns(parsed: ParsedFormula, data: pd.DataFrame) -> list[str]:
    names = parsed.names
    cols = [c for c in data.columns if isinstance(c, str)]
    missing = sorted(n for n in names if n not in data.columns)
    if missing:
        name = missing[0]
        close = difflib.get_close_matches(name, cols, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else f" The data have: {', '.join(cols[:20])}."
        raise DataError(f"unknown column '{name}' in formula '{parsed.formula}'.{hint}")
    if not data.columns.is_unique:
        dup = [n for n in names if int((data.columns == n).sum()) > 1]
        if dup:
            raise DataError(f"the data have more than one column named '{dup[0]}' (used in formula "
                            f"'{parsed.formula}'): rename or drop the duplicates")
    return sorted(names, key=list(data.columns).index)


def _simple_numeric_terms(terms: Terms, cols: Columns) -> tuple[str, ...] | None:
    """For a right-hand side made only of numeric column names, its columns' R names; else None."""
    intercept, names = True, []
    for sign, term in terms:
        if term in ("0", "1"):
            intercept = (term == "1") == (sign == "+")
            continue
        if sign != "+" or not _SIMPLE_NAME.match(term) or term not in cols:
            return None
        dt = cols[term].dtype
        if not isinstance(dt, np.dtype) or dt.kind not in "iuf":
            return None
        if term not in names:
            names.append(term)
    return tuple(["(Intercept)"] * intercept + names)


def _fixed_matrix(rhs: str, data, formula: str, spec=None, terms: Terms = ()):
    """Model matrix of a right-hand side with R's column names; formulaic handles anything beyond names.

    ``data`` is a DataFrame or :class:`Columns`; a sum of numeric columns (``terms``, the signed terms
    of ``rhs`` from the parsed formula) is assembled directly.
    """
    data = Columns.of(data)
    simple = _simple_numeric_terms(terms, data) if spec is None and terms else None
    if simple is not None:
        X = np.empty((data.nrows, len(simple)), order="F")     # column by column: contiguous writes
        for j, name in enumerate(simple):
            X[:, j] = 1.0 if name == "(Intercept)" else data[name]
        return X, simple, None
    # rhs is (part of) a formula that passed the whitelist in parse_formula: nothing else reaches formulaic
    data = data.frame
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


def _grouping(term: RandomTerm, data) -> tuple[np.ndarray, np.ndarray]:
    """Codes and labels of a (possibly interaction) grouping factor such as ``cask:batch``."""
    cols = Columns.of(data)
    parts = [factor_codes(cols[v.strip("`")]) for v in term.group_vars]
    if len(parts) == 1:
        codes, labels = parts[0]
        values = cols[term.group_vars[0].strip("`")]
        if (cols._frame is None and isinstance(values, np.ndarray) and values.dtype == codes.dtype
                and np.array_equal(values, codes)):
            # ids 0..k−1 already: the codes are our column copy itself (read-only), not a second one
            values.flags.writeable = False
            codes = values
        return codes, labels
    codes = np.zeros(cols.nrows, dtype=np.int64)
    for c, lab in parts:
        codes = codes * len(lab) + c
    uniq, new = np.unique(codes, return_inverse=True)
    pieces = []                                # each level's label in each factor, last first
    for c, lab in reversed(parts):
        pieces.append(lab[uniq % len(lab)])
        uniq = uniq // len(lab)
    labels = [":".join(p) for p in zip(*reversed(pieces))]
    return new.astype(CODE_DTYPE), np.array(labels, dtype=object)


def _lme4_term_order(raw: list) -> list:
    """Random-effect terms in lme4's order (``mkReTrms``), each item holding its level labels at [2].

    lme4 reorders only when some term has more levels than the term before it, and then uses
    ``rev(order(nl))``: decreasing number of levels, with terms of equal size in *reverse* formula order
    (``(x1 || g) + (1 | h)`` with h larger gives h, g:x1, g:(Intercept)).  θ follows this order.
    """
    nl = [len(r[2]) for r in raw]
    if not any(b > a for a, b in zip(nl, nl[1:])):
        return raw
    ascending = sorted(range(len(raw)), key=nl.__getitem__)          # R's order(): stable
    return [raw[i] for i in reversed(ascending)]


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
    data = as_frame(data)
    parsed = parse_formula(formula)
    if len(data) == 0:
        raise DataError("the data frame is empty: there is nothing to fit")
    check_frame_columns(data)
    used = _check_columns(parsed, data) + [c for c in extra_columns if c not in parsed.formula]
    frame, n_dropped = _complete_columns(data, used, parsed)
    nrows = frame.nrows
    response = _response(parsed, frame, formula, numeric_response)
    check_fixed_size(parsed.n_fixed_terms, nrows, formula, lower_bound=True)
    X, names, spec = _fixed_matrix(parsed.fixed, frame, formula, terms=parsed.fixed_terms)
    check_fixed_size(X.shape[1], nrows, formula)
    _check_rank(X, names, formula)
    X.flags.writeable = False          # shared below with the columns and the random-effects terms
    if spec is None:
        _share_columns(frame, X, names)
    offset = None
    if parsed.offsets:
        offset = np.sum([_numeric(evaluate(n, frame, formula, parsed.text), f"offset({o})")
                         for o, n in zip(parsed.offsets, parsed.offset_nodes)], axis=0)
    terms = _random_terms(parsed, frame, formula, check_levels, (X, names) if spec is None else None)
    model = ModelStructure(formula=formula, parsed=parsed, columns=frame, X=X, fixef_names=names, terms=terms,
                           n_dropped=n_dropped, fixed_spec=spec)
    return Design(model, Response(response, offset))


def _complete_columns(data: pd.DataFrame, used: list[str], parsed) -> tuple[Columns, int]:
    """Our own copies of the used columns, without the rows that miss a value in any of them."""
    # One pass over plain arrays: pandas' frame-wide isna()/any() costs more than the fit of a small model.
    arrays = {c: _as_array(data[c]) for c in used}
    check_column_types(arrays, parsed.grouping_only)
    missing = None
    for c, a in arrays.items():
        kind = a.dtype.kind if isinstance(a.dtype, np.dtype) else None
        if kind in ("i", "u", "b"):
            continue                                   # cannot hold a missing value
        numeric = kind in ("f", "c")
        isna = np.isnan(a) if numeric else np.asarray(pd.isna(a), dtype=bool)
        missing = isna if missing is None else (missing | isna)
        if numeric and np.isinf(a).any():
            raise DataError(f"column '{c}' has infinite values; remove or recode them before fitting")
    n_dropped = 0 if missing is None else int(missing.sum())
    if n_dropped == len(data):
        raise DataError("no complete rows: every row has a missing value in a column the formula uses")
    if n_dropped:
        arrays = {c: a[~missing] for c, a in arrays.items()}          # a copy
    else:
        # Our own copy: the caller may change their DataFrame in place after the fit (numpy views of
        # its columns would follow), and nothing of ours may ever write into theirs.
        arrays = {c: a.copy() for c, a in arrays.items()}
    return Columns(arrays, len(data) - n_dropped), n_dropped


def _response(parsed, frame: Columns, formula: str, numeric_response: bool) -> dict[str, np.ndarray]:
    """The response column(s): {name: values}, two entries for ``cbind(successes, failures)``."""
    resp, lhs = parsed.response, parsed.tree.args[0]
    if parsed.response_args is not None:
        if len(lhs.args) != 2:
            raise FormulaError("cbind() in the response takes two arguments: successes and failures",
                               formula, resp)
        response = {p: _numeric(evaluate(n, frame, formula, parsed.text), f"'{p}' in cbind()")
                    for p, n in zip(parsed.response_args, lhs.args)}
    else:
        response = {resp: _as_values(evaluate(lhs, frame, formula, parsed.text), frame.nrows)}
    if numeric_response:
        dt = next(iter(response.values())).dtype
        if not pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt):
            raise DataError(f"the response '{resp}' must be numeric for a linear mixed model (it is "
                            f"{dt}); for a binary or count response use mlmkit.glmer")
        if len(response) == 1:
            check_numeric_response(next(iter(response.values())), resp, formula)
    return response


def _share_columns(frame: Columns, X: np.ndarray, names: tuple[str, ...]) -> None:
    """Our float64 copies of the columns that X repeats become views of X's columns: one copy each.

    (Only for X assembled from plain columns by :func:`_fixed_matrix`, whose column j is the column
    ``names[j]`` as it is.)"""
    for j, name in enumerate(names):
        a = frame._arrays.get(name)
        if isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == (X.shape[0],):
            frame._arrays[name] = X[:, j]


def _term_values(term: RandomTerm, frame: Columns, formula: str, fixed) -> tuple[np.ndarray, tuple]:
    """A term's columns of Z: a view of X when X holds them side by side (``(1 + x | g)`` with
    ``y ~ x + ...``), a read-only broadcast column of ones for ``(1 | g)``, else a new matrix.
    At a million rows each column a term shares saves 8 MB."""
    cols = _simple_numeric_terms(term.terms, frame) if fixed is not None else None
    if cols is not None:
        X, names = fixed
        k = len(cols)
        for i in range(len(names) - k + 1):
            if k and tuple(names[i:i + k]) == cols:
                return X[:, i:i + k], cols
        if cols == ("(Intercept)",):
            return np.broadcast_to(np.ones((1, 1)), (frame.nrows, 1)), cols
    values, cols, _ = _fixed_matrix(term.expr, frame, formula, terms=term.terms)
    return values, cols


def _random_terms(parsed, frame: Columns, formula: str, check_levels: bool, fixed=None) -> tuple[ReTerm, ...]:
    """The random-effects terms in lme4's order, each with its grouping codes and Z columns.

    ``fixed``: (X, names) when X was assembled from plain columns, whose columns terms may share."""
    raw = []
    for term in parsed.random:
        codes, labels = _grouping(term, frame)
        values, cols = _term_values(term, frame, formula, fixed)
        if values.shape[1] == 0:
            raise FormulaError(f"the random-effects term '{term.source}' has no columns", formula, term.source)
        raw.append((term, codes, labels, values, cols))
    terms, offset_theta = [], 0
    for term, codes, labels, values, cols in _lme4_term_order(raw):
        t = ReTerm(term, term.group, labels, codes, cols, values, offset_theta)
        offset_theta += t.n_theta
        if check_levels:
            _check_levels(t, frame.nrows)
        terms.append(t)
    return tuple(terms)


def _check_levels(t: ReTerm, nrows: int | None = None) -> None:
    """lmer's checks: at least two groups, fewer groups (and random effects) than observations;
    glmer's (``nrows`` None, an observation-level random effect is allowed): the first only."""
    source = t.term.source
    if t.n_levels < 2:
        raise DataError(f"the grouping factor '{t.group}' in '{source}' has only one level: a "
                        "random effect needs at least two groups")
    if nrows is None:
        return
    if t.n_levels >= nrows:
        raise DataError(f"the grouping factor '{t.group}' in '{source}' has as many levels "
                        f"({t.n_levels}) as observations: the random effect cannot be told apart "
                        "from the residual")
    if t.n_levels * t.q >= nrows:
        raise DataError(f"the term '{source}' has {t.n_levels * t.q} random effects for "
                        f"{nrows} observations: too many to estimate with a residual variance")


def _numeric(values, what: str) -> np.ndarray:
    """Values as floats, or a DataError naming ``what`` (an offset of text, say)."""
    dt = getattr(values, "dtype", None)
    if dt is not None and not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)):
        raise DataError(f"{what} must be numeric, but it holds {dt} values; convert it to numbers first, "
                        "e.g. pd.to_numeric(df[column])")
    return np.asarray(values, float)


def _as_values(v, n: int):
    """An evaluated expression as an array of length n (a scalar is repeated)."""
    if isinstance(v, pd.Series):
        return _as_array(v)
    if np.ndim(v) == 0:
        return np.full(n, v)
    return v if hasattr(v, "dtype") else np.asarray(v)
