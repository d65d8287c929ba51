"""Shared, cached fits of the lme4 reference cases: each model is fitted once per test session.

The reference values come from ``tools/lme4_reference.R`` (R 4.2.2, lme4 1.1-31) and live in
``tests/reference/lmer.json``; the data sets they were fitted to are in ``tests/data/`` and ``data/``.
"""
from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"


@functools.lru_cache(maxsize=None)
def reference(kind: str = "lmer") -> dict[str, dict]:
    with open(REFERENCE / f"{kind}.json") as fh:
        return {case["id"]: case for case in json.load(fh)}


def case_data(case: dict) -> pd.DataFrame:
    """The case's data with R's factors as pandas categoricals, their levels in R's order.

    R made ``factor(x)`` of these columns: numbers sort as numbers, text as text, which is what
    ``pd.Categorical`` does with the values ``read_csv`` gives.
    """
    path = ROOT / (case.get("data_file") or f"data/{case['data']}.csv")
    df = pd.read_csv(path)
    for c in case.get("categorical", []):
        df[c] = df[c].astype("category")
    return df


@functools.lru_cache(maxsize=None)
def lmer_fit(case_id: str):
    """(case, result, warnings) for one reference case, fitted once and cached."""
    from mlmkit.lmm import lmer

    case = reference("lmer")[case_id]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = lmer(case["formula"], case_data(case), REML=case["REML"])
    return case, result, tuple(str(w.message) for w in caught)
