"""Answers as plain data: what a sandboxed exercise notebook hands back to the grader.

The grader never trusts an object a learner's code made: a DataFrame subclass or a number whose
``__eq__`` always says True would decide its own grade.  So the sandbox turns each answer into JSON
(:func:`dumps`) and the grader rebuilds *new* objects of known types from that text (:func:`loads`);
nothing is unpickled and no learner code runs in the grader.  Encoded: JSON's own types, NaN and
±inf, tuples, numpy scalars and arrays (numeric, bool or text), pandas Series, DataFrames and Index,
fitted ``lmer``/``glmer`` models (a :class:`PlainModel` of ``_MODEL_FIELDS``: ``fixef``,
``varcorr``, ``sigma``, ..., and ``family``) and dataclass results such as
:class:`mlmkit.power.PowerCurve` (a :class:`PlainRecord` of their fields and ``table``); anything
else becomes :class:`Unsupported`.

>>> loads(dumps({"icc": np.float64(0.25), "ids": np.arange(3)}))
{'icc': 0.25, 'ids': array([0, 1, 2])}
"""
from __future__ import annotations

import dataclasses
import json
import math
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["dumps", "loads", "to_plain", "from_plain", "PlainModel", "PlainRecord", "Unsupported",
           "PlainDataError"]

MAX_DEPTH = 20               # nesting of lists/dicts in one answer
MAX_ELEMENTS = 5_000_000     # numbers in one answer (a 1M-row data frame of five columns)
_MODEL_FIELDS = ("fixef", "coef", "ranef", "varcorr", "vcov", "sigma", "theta", "nobs", "ngroups", "REML",
                 "loglik", "aic", "bic", "is_singular", "formula")


class PlainDataError(ValueError):
    """The text is not a valid encoding of answers (a forged or truncated file)."""


@dataclasses.dataclass(frozen=True)
class Unsupported:
    """An answer of a type the grader does not read back (its type name, for the message)."""
    type_name: str

    def __repr__(self) -> str:
        return f"<an object of type {self.type_name} that cannot be graded>"


class PlainRecord:
    """Read-only attributes rebuilt from a dataclass result (``curve.table``, ``res.power``...)."""

    def __init__(self, type_name: str, fields: dict[str, Any]):
        object.__setattr__(self, "_type_name", type_name)
        object.__setattr__(self, "_fields", MappingProxyType(dict(fields)))

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            value = fields[name]
            return value.copy() if isinstance(value, (pd.DataFrame, pd.Series, np.ndarray)) else value
        raise AttributeError(f"{object.__getattribute__(self, '_type_name')} has no attribute {name!r}")

    def __setattr__(self, name, value):
        raise AttributeError("a graded answer is read-only")

    def __repr__(self) -> str:
        return f"<{self._type_name}: {', '.join(self._fields)}>"


class PlainModel(PlainRecord):
    """A fitted model as the grader sees it: the numbers an exercise asks about, nothing to call."""


class PlainLmerResult(PlainModel):
    """A linear mixed model (``mk.lmer``) answer."""


class PlainGlmerResult(PlainModel):
    """A generalised linear mixed model (``mk.glmer``) answer."""


# --------------------------------------------------------------------------------------------------
# encoding (runs in the sandbox, on the learner's objects)
def _number(x: float) -> Any:
    return x if math.isfinite(x) else {"__float__": repr(x)}


def _array(a: np.ndarray, depth: int) -> dict:
    if a.dtype.kind in "biuf":
        flat = a.ravel()
        finite = a.dtype.kind != "f" or bool(np.isfinite(flat).all())
        values = flat.tolist() if finite else [_number(v) for v in flat.tolist()]
        return {"__ndarray__": values, "dtype": a.dtype.str, "shape": list(a.shape)}
    return {"__ndarray__": [to_plain(v, depth + 1) for v in a.ravel().tolist()], "dtype": "object",
            "shape": list(a.shape)}


def _is_model(obj: Any) -> bool:
    return all(hasattr(type(obj), a) or hasattr(obj, a) for a in ("fixef", "varcorr", "nobs", "design"))


def _model(m: Any, depth: int) -> dict:
    fields = {}
    for name in _MODEL_FIELDS:
        try:
            value = getattr(m, name)
        except Exception:                     # a property that cannot be computed for this fit
            continue
        fields[name] = to_plain(value, depth + 1)
    family = getattr(m, "family", None)
    fields["family"] = None if family is None else str(getattr(family, "name", family))
    return {"__model__": "lmer" if family is None else "glmer", "fields": fields}


def to_plain(obj: Any, depth: int = 0) -> Any:
    """``obj`` as JSON-compatible data (see the module docstring for what is kept)."""
    if depth > MAX_DEPTH:
        return {"__unsupported__": "too deeply nested"}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _number(float(obj))
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _array(obj, depth)
    if isinstance(obj, pd.DataFrame):
        return {"__frame__": {"columns": to_plain(list(obj.columns), depth + 1),
                              "index": to_plain(obj.index, depth + 1),
                              "data": [to_plain(obj.iloc[:, k].to_numpy(), depth + 1) for k in range(obj.shape[1])]}}
    if isinstance(obj, pd.Series):
        return {"__series__": {"name": to_plain(obj.name, depth + 1), "index": to_plain(obj.index, depth + 1),
                               "data": to_plain(obj.to_numpy(), depth + 1)}}
    if isinstance(obj, pd.Index):
        return {"__index__": {"name": to_plain(obj.name, depth + 1),
                              "data": to_plain(np.asarray(obj.tolist(), dtype=object), depth + 1)}}
    if isinstance(obj, (list, tuple)):
        items = [to_plain(v, depth + 1) for v in obj]
        return items if isinstance(obj, list) else {"__tuple__": items}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": {k: to_plain(v, depth + 1) for k, v in obj.items()}}
        return {"__unsupported__": "dict with non-text keys"}
    if _is_model(obj):
        return _model(obj, depth)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: to_plain(getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj)}
        for extra in ("table", "power"):
            if extra not in fields and hasattr(type(obj), extra):
                try:
                    fields[extra] = to_plain(getattr(obj, extra), depth + 1)
                except Exception:
                    pass
        return {"__record__": type(obj).__name__, "fields": fields}
    return {"__unsupported__": type(obj).__name__}


def dumps(answers: dict[str, Any]) -> str:
    """JSON text of ``{name: answer}``."""
    return json.dumps({"answers": {str(k): to_plain(v) for k, v in answers.items()}}, allow_nan=False)


# --------------------------------------------------------------------------------------------------
# decoding (runs in the grader, on untrusted text)
class _Budget:
    def __init__(self):
        self.left = MAX_ELEMENTS

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise PlainDataError("the answers hold too many values")


def _expect(cond: bool, what: str) -> None:
    if not cond:
        raise PlainDataError(what)


def _float(v: Any) -> float:
    if isinstance(v, dict):
        _expect(set(v) == {"__float__"} and v["__float__"] in ("nan", "inf", "-inf"), "bad special float")
        return float(v["__float__"])
    _expect(isinstance(v, (int, float)) and not isinstance(v, bool), "bad number")
    return float(v)


def _decode_array(d: dict, budget: _Budget, depth: int) -> np.ndarray:
    values, dtype, shape = d.get("__ndarray__"), d.get("dtype"), d.get("shape")
    _expect(isinstance(values, list) and isinstance(shape, list) and isinstance(dtype, str), "bad array")
    _expect(all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape), "bad array shape")
    _expect(int(np.prod(shape, dtype=np.int64)) == len(values), "array size does not match its shape")
    budget.spend(len(values))
    if dtype == "object":
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = from_plain(v, depth + 1, budget)
        return out.reshape(shape)
    dt = np.dtype(dtype)
    _expect(dt.kind in "biuf", "bad array dtype")
    if dt.kind != "f":
        _expect(all(isinstance(v, (int, bool)) for v in values), "bad array values")
    elif not all(type(v) in (int, float) for v in values):       # NaN/inf markers (rarely)
        values = [_float(v) for v in values]
    return np.array(values, dtype=dt).reshape(shape)


def _decode_index(d: Any, budget: _Budget, depth: int) -> pd.Index:
    _expect(isinstance(d, dict) and "__index__" in d, "bad index")
    body = d["__index__"]
    data = from_plain(body.get("data"), depth + 1, budget)
    _expect(isinstance(data, np.ndarray) and data.ndim == 1, "bad index data")
    values = list(data)
    return pd.Index(values, name=_label(from_plain(body.get("name"), depth + 1, budget)),
                    dtype=object if not values else None)


def _label(v: Any) -> Any:
    _expect(v is None or isinstance(v, (str, int, float, tuple)), "bad label")
    return v


def _decode_frame(body: Any, budget: _Budget, depth: int) -> pd.DataFrame:
    _expect(isinstance(body, dict), "bad data frame")
    columns = from_plain(body.get("columns"), depth + 1, budget)
    index = _decode_index(body.get("index"), budget, depth)
    data = body.get("data")
    _expect(isinstance(columns, list) and isinstance(data, list) and len(columns) == len(data), "bad data frame")
    cols = [from_plain(c, depth + 1, budget) for c in data]
    _expect(all(isinstance(c, np.ndarray) and c.shape == (len(index),) for c in cols), "bad data frame column")
    frame = pd.DataFrame({k: c for k, c in enumerate(cols)}, index=index)
    frame.columns = pd.Index([_label(c) for c in columns])
    return frame


def _decode_series(body: Any, budget: _Budget, depth: int) -> pd.Series:
    _expect(isinstance(body, dict), "bad series")
    index = _decode_index(body.get("index"), budget, depth)
    data = from_plain(body.get("data"), depth + 1, budget)
    _expect(isinstance(data, np.ndarray) and data.shape == (len(index),), "bad series data")
    return pd.Series(data, index=index, name=_label(from_plain(body.get("name"), depth + 1, budget)))


def _decode_fields(d: dict, budget: _Budget, depth: int) -> dict[str, Any]:
    fields = d.get("fields")
    _expect(isinstance(fields, dict) and all(isinstance(k, str) for k in fields), "bad record")
    return {k: from_plain(v, depth + 1, budget) for k, v in fields.items()}


def from_plain(data: Any, depth: int = 0, budget: _Budget | None = None) -> Any:
    """Rebuild an answer from :func:`to_plain`'s output, creating only objects of known types."""
    budget = budget or _Budget()
    _expect(depth <= MAX_DEPTH + 2, "answers nested too deeply")
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, (int, float)):
        return int(data) if isinstance(data, int) else float(data)
    if isinstance(data, list):
        budget.spend(len(data))
        return [from_plain(v, depth + 1, budget) for v in data]
    _expect(isinstance(data, dict) and len(data) >= 1, "bad value")
    tag = next(iter(data))
    if tag == "__float__":
        return _float(data)
    if tag == "__ndarray__":
        return _decode_array(data, budget, depth)
    if tag == "__frame__":
        return _decode_frame(data[tag], budget, depth)
    if tag == "__series__":
        return _decode_series(data[tag], budget, depth)
    if tag == "__index__":
        return _decode_index(data, budget, depth)
    if tag == "__tuple__":
        _expect(isinstance(data[tag], list), "bad tuple")
        return tuple(from_plain(v, depth + 1, budget) for v in data[tag])
    if tag == "__dict__":
        body = data[tag]
        _expect(isinstance(body, dict), "bad dict")
        return {str(k): from_plain(v, depth + 1, budget) for k, v in body.items()}
    if tag == "__model__":
        cls = {"lmer": PlainLmerResult, "glmer": PlainGlmerResult}.get(data[tag])
        _expect(cls is not None, "bad model kind")
        return cls(cls.__name__, _decode_fields(data, budget, depth))
    if tag == "__record__":
        _expect(isinstance(data[tag], str), "bad record")
        return PlainRecord(data[tag][:80], _decode_fields(data, budget, depth))
    if tag == "__unsupported__":
        return Unsupported(str(data[tag])[:80])
    raise PlainDataError(f"unknown tag {str(tag)[:40]!r}")


def loads(text: str | bytes) -> dict[str, Any]:
    """``{name: answer}`` from :func:`dumps`' text; :class:`PlainDataError` for anything else."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise PlainDataError(f"the answers are not valid JSON ({type(e).__name__})") from None
    _expect(isinstance(raw, dict) and isinstance(raw.get("answers"), dict), "no answers in the file")
    try:
        return {str(k): from_plain(v) for k, v in raw["answers"].items()}
    except RecursionError:
        raise PlainDataError("answers nested too deeply") from None
    except PlainDataError:
        raise
    except (TypeError, ValueError, OverflowError) as e:
        raise PlainDataError(f"the answers could not be read ({type(e).__name__}: {e})") from None
