"""The course's real data sets, shipped inside the package: ``load``, ``describe``, ``available``.

The CSV files live in ``mlmkit/data/`` (byte-identical copies of the repository's ``data/``), so they
work after a plain ``pip install``.  A misspelt name raises :class:`mlmkit.errors.DataError` listing
the available data sets (and the likely one).
"""
from __future__ import annotations

import difflib
import re
from importlib import resources

import pandas as pd

from .errors import DataError

__all__ = ["load", "describe", "available"]

_INT, _FLOAT, _STR = "int64", "float64", "str"
_IMM_COLUMNS = {
    "schid": _STR, "stuid": _INT, "ses": _FLOAT, "meanses": _FLOAT, "homework": _INT, "white": _INT,
    "parented": _INT, "public": _INT, "ratio": _INT, "percmin": _INT, "math": _INT, "sex": _INT,
    "race": _INT, "sctype": _INT, "cstr": _INT, "scsize": _INT, "urban": _INT, "region": _INT,
}

#: name -> {column: dtype}, in file order; the single source of truth for ``load``'s dtypes.
SCHEMAS: dict[str, dict[str, str]] = {
    "alcohol": {"country": _STR, "year": _INT, "alcohol": _FLOAT},
    "imm10": {**_IMM_COLUMNS, "schnum": _STR},
    "imm23": dict(_IMM_COLUMNS),
    "rats": {"batch": _STR, "m": _INT, "n": _INT},
    "sleepstudy": {"Reaction": _FLOAT, "Days": _INT, "Subject": _STR},
}

#: name -> (rows, grouping column, number of groups), checked by the tests.
SHAPES: dict[str, tuple[int, str, int]] = {
    "alcohol": (411, "country", 189),
    "imm10": (260, "schid", 10),
    "imm23": (519, "schid", 23),
    "rats": (71, "batch", 71),
    "sleepstudy": (180, "Subject", 18),
}


def available() -> list[str]:
    """Names of the bundled data sets, sorted: ``['alcohol', 'imm10', 'imm23', 'rats', 'sleepstudy']``."""
    return sorted(SCHEMAS)


def _check_name(name: str) -> str:
    """Normalise ``name`` (case, a trailing ``.csv``) or raise DataError listing what exists."""
    if not isinstance(name, str):
        raise DataError(f"a dataset name must be a string such as 'rats', not {type(name).__name__}. "
                        f"Available datasets: {', '.join(available())}.")
    key = name.strip().lower().removesuffix(".csv")
    if key in SCHEMAS:
        return key
    close = difflib.get_close_matches(key, available(), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise DataError(f"no dataset called {name!r}. Available datasets: {', '.join(available())}{hint}.")


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set as a new DataFrame (yours to modify; the file is never touched).

    ``name`` is one of :func:`available` (case-insensitive; a trailing ``.csv`` is ignored).  The
    columns keep file order with the dtypes of :data:`SCHEMAS`: grouping factors as strings (so
    ``(1 | batch)`` never treats a batch number as a quantity), counts and codes as ``int64``,
    measurements as ``float64``.  An unknown name raises DataError, e.g. ``load("sleep")`` -> "no
    dataset called 'sleep'. Available datasets: alcohol, ... (did you mean 'sleepstudy'?)."
    """
    key = _check_name(name)
    schema = SCHEMAS[key]
    with (resources.files("mlmkit") / "data" / f"{key}.csv").open("rb") as fh:
        df = pd.read_csv(fh, dtype=schema)
    if list(df.columns) != list(schema):          # a stale or edited file: say so, clearly
        raise DataError(f"dataset {key!r} has columns {list(df.columns)}, expected {list(schema)}; "
                        "the package data are out of date (run tools/sync_data.py).")
    return df


def describe(name: str) -> str:
    """The description of a data set: what it is, source, citation, columns and their meaning, licence.

    It is the ``## name`` section of the bundled ``data/README.md``, followed by the dtypes that
    :func:`load` gives; ``print(describe("rats"))`` to read it.  DataError for an unknown name.
    """
    key = _check_name(name)
    text = (resources.files("mlmkit") / "data" / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(key)}\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    body = match.group(1).strip() if match else "(no description found)"
    rows, group, ngroups = SHAPES[key]
    dtypes = ", ".join(f"{col}: {dt}" for col, dt in SCHEMAS[key].items())
    return (f"{key}: {rows} rows, {ngroups} groups in '{group}'\n\n{body}\n\n"
            f"mlmkit.datasets.load({key!r}) dtypes: {dtypes}\n")
