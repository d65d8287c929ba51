"""Every bad input gets a clear mlmkit error (issue 16), and unusual but valid inputs still fit.

Each case names the error class and a phrase of its message; the formulas that try to run code must
raise FormulaError and leave no file behind.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mlmkit
from mlmkit import glmer, lmer
from mlmkit.spec.design import evaluate, lformula
from mlmkit.errors import DataError, FormulaError, MlmkitError, ParameterError, SingularFitWarning

from reference_fits import ROOT

SS = mlmkit.datasets.load("sleepstudy")
CB = pd.read_csv(ROOT / "tests/data/cbpp.csv", dtype={"herd": str, "period": str})
BASE = "Reaction ~ Days + (1 | Subject)"


@pytest.fixture(scope="module")
def base_fixef():
    return lmer(BASE, SS).fixef.to_numpy()


def _subclass_index(name: str) -> int:
    return next(i for i, c in enumerate(().__class__.__base__.__subclasses__()) if c.__name__ == name)


# --- formulas must not run code ------------------------------------------------------------------
MALICIOUS = [
    ('().__class__.__base__.__subclasses__()[{K}].__init__.__globals__["system"]("touch {F}") ~ Days + (1|Subject)',
     "unknown function"),
    ("Reaction ~ __import__('os').system('touch {F}') + (1|Subject)", "unknown function"),
    ("Reaction ~ Days + offset(__import__('os').system('touch {F}')) + (1|Subject)", "unknown function"),
    ("Reaction ~ Days + (__import__('os').system('touch {F}') | Subject)", "unknown function"),
    ("Reaction ~ Days + (1 | __import__('os').system('touch {F}'))", "unknown function"),
    ("cbind(__import__('os').system('touch {F}'), Days) ~ Days + (1|Subject)", "unknown function"),
    ("Reaction ~ I(().__class__.__base__) + (1|Subject)", "attribute access"),
    ("Reaction ~ np.save('{F}', Days) + (1|Subject)", "unknown function"),
    ("np.load('{F}') ~ Days + (1|Subject)", "unknown function"),
    ("Reaction ~ Days[0] + (1|Subject)", "subscript"),
    ("Reaction ~ [d for d in Days] + (1|Subject)", "listcomp"),
    ("Reaction ~ log(Days, **{{}}) + (1|Subject)", r"'\*\*' arguments"),
    ("Reaction ~ eval('1') + (1|Subject)", "unknown function"),
    ("Reaction ~ open('{F}', 'w') + (1|Subject)", "unknown function"),
    ("Reaction ~ (lambda: 1)() + (1|Subject)", "cannot read"),
    ("Reaction ~ __builtins__ + (1|Subject)", "not allowed"),
    ("Reaction ~ {{__import__('os').system('touch {F}')}} + (1|Subject)", r"construct \(set\)"),
    ("Reaction ~ `__import__('os').system('touch {F}')` + (1|Subject)", "unknown column"),
]


@pytest.mark.parametrize("fit", [lmer, glmer])
@pytest.mark.parametrize("template, phrase", MALICIOUS)
def test_formula_cannot_run_code(tmp_path, template, phrase, fit):
    target = tmp_path / "pwned"
    formula = template.format(K=_subclass_index("_wrap_close"), F=target)
    data = SS.assign(Reaction=(SS.Reaction > 300).astype(int)) if fit is glmer else SS
    with pytest.raises(DataError if phrase == "unknown column" else FormulaError, match=phrase):
        fit(formula, data)
    assert not target.exists()


@pytest.mark.parametrize("expr", ["__import__('os')", "().__class__", "Days.real", "Reaction[0]", "exec('1')"])
def test_evaluate_is_restricted(expr):
    with pytest.raises(FormulaError):
        evaluate(expr, SS)


# --- formulas: unclear messages and wrong suggestions --------------------------------------------
FORMULA_CASES = [
    ("Reaction ~ Days + + (1|Subject)", "two operators in a row"),
    ("Reaction ~ Days + )1|Subject(", "unbalanced parentheses"),
    ("Reaction ~ Days + (1|Subject))(", "unbalanced parentheses"),
    ("Reaction ~ Days + ((1|Subject)", "never closed"),
    ("Reaction ~ Days.n + (1|Subject)", "backticks: `Days.n`"),
    ("Reaction ~ Days + (Days.n | Subject)", "backticks: `Days.n`"),
    ("Reaction.log ~ Days + (1|Subject)", "backticks: `Reaction.log`"),
    ("Reaction ~ Days + 1 | Subject", "write '(1 | Subject)'"),
    ('Reaction ~ Days + Q("no such") + (1|Subject)', "unknown column 'no such'"),
]


@pytest.mark.parametrize("formula, phrase", FORMULA_CASES)
def test_formula_messages(formula, phrase):
    with pytest.raises(MlmkitError, match=phrase.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")) as exc:
        lmer(formula, SS.assign(**{"Days.n": SS.Days}))
    assert "write '(+" not in str(exc.value) and "write '()" not in str(exc.value)


def test_q_quotes_a_column_name(base_fixef):
    d = SS.rename(columns={"Days": "d d", "Reaction": "re action"})
    m = lmer('Q("re action") ~ Q("d d") + (1 | Subject)', d)
    np.testing.assert_allclose(m.fixef.to_numpy(), base_fixef, rtol=1e-7)
    m2 = lmer('Q("re action") ~ Q("d d") + (Q("d d") | Subject)', d)
    np.testing.assert_allclose(m2.fixef.to_numpy(), lmer("Reaction ~ Days + (Days | Subject)", SS).fixef, rtol=1e-6)


@pytest.mark.parametrize("name", ["log", "np", "I", "exp", "scale"])
def test_columns_named_like_functions(name, base_fixef):
    m = lmer(f"Reaction ~ {name} + (1 | Subject)", SS.rename(columns={"Days": name}))
    np.testing.assert_allclose(m.fixef.to_numpy(), base_fixef, rtol=1e-7)


def test_column_named_log_used_with_log_function():
    d = SS.assign(log=SS.Reaction)
    m = lmer("log(log) ~ Days + (1 | Subject)", d)
    np.testing.assert_allclose(m.fixef, lmer("log(Reaction) ~ Days + (1 | Subject)", SS).fixef, rtol=1e-7)


# --- data: clear errors before heavy work --------------------------------------------------------
def _wide(n_rows: int, n_cols: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(rng.normal(size=(n_rows, n_cols)), columns=[f"v{i}" for i in range(n_cols)])
    return d.assign(y=rng.normal(size=n_rows), g=np.arange(n_rows) % 12)


def _sleep20_plus(k: int) -> pd.DataFrame:
    d = SS.iloc[:20].copy()
    rng = np.random.default_rng(2)
    for i in range(k):
        d[f"r{i}"] = rng.normal(size=20)
    return d


SIZE_CASES = [
    ("y ~ " + "*".join(f"v{i}" for i in range(13)) + " + (1|g)", _wide(120, 13), "at least 8191 columns for 120"),
    ("y ~ (v0 + v1 + v2 + v3 + v4 + v5)^3 + (1|g)", _wide(30, 6), "at least 41 columns for 30"),
    ("y ~ v0:v1:v2 + v0*v1*v2*v3*v4 + (1|g)", _wide(24, 5), "at least 31 columns for 24"),
    ("Reaction ~ " + " + ".join(f"r{i}" for i in range(25)) + " + (1|Subject)", _sleep20_plus(25),
     "at least 25 columns for 20"),
    ("Reaction ~ " + " + ".join(f"r{i}" for i in range(19)) + " + (1|Subject)", _sleep20_plus(19),
     "20 columns for 20"),
    ("y ~ v0 * C(f) + (1|g)", _wide(30, 1).assign(f=np.arange(30) % 15), "30 columns for 30"),
]


@pytest.mark.parametrize("formula, data, phrase", SIZE_CASES)
def test_too_many_fixed_effects(formula, data, phrase):
    with pytest.raises(DataError, match=phrase):
        lmer(formula, data)


def _with(**cols) -> pd.DataFrame:
    return SS.assign(**cols)


DAY = pd.to_timedelta(SS.Days, unit="D")
DATA_CASES = [
    ("Reaction ~ td + (1|Subject)", _with(td=DAY), "time spans"),
    ("Reaction ~ dt + (1|Subject)", _with(dt=pd.Timestamp("2020-01-01") + DAY), "dates/times"),
    ("Reaction ~ dt + (1|Subject)", _with(dt=pd.Timestamp("2020-01-01", tz="UTC") + DAY), "dates/times"),
    ("td ~ Days + (1|Subject)", _with(td=DAY), "time spans"),
    ("Reaction ~ Days + (td | Subject)", _with(td=DAY), "time spans"),
    ("z ~ Days + (1|Subject)", _with(z=SS.Reaction + 1j), "complex"),
    ("Reaction ~ z + (1|Subject)", _with(z=SS.Days + 2j), "complex"),
    ("z ~ Days + (1|Subject)", _with(z=SS.Reaction.where(SS.index != 3, 1e308)), "overflow"),
    ("z ~ Days + (1|Subject)", _with(z=SS.Reaction * 1e200), "overflow"),
    ("exp(z) ~ Days + (1|Subject)", _with(z=SS.Reaction * 10), "infinite or undefined"),
    ("z ~ Days + (1|Subject)", _with(z=5.0), "Response is constant"),
    ("z ~ Days + (1|Subject)", _with(z=0), "Response is constant"),
    ("Reaction ~ Days + offset(s) + (1|Subject)", _with(s=SS.Subject.astype(str)), "must be numeric"),
]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("formula, data, phrase", DATA_CASES)
def test_data_errors(formula, data, phrase):
    with pytest.raises(DataError, match=phrase):
        lmer(formula, data)


def test_multiindex_columns():
    d = SS.copy()
    d.columns = pd.MultiIndex.from_tuples([(c, "x") for c in SS.columns])
    with pytest.raises(DataError, match="MultiIndex.*flatten"):
        lmer(BASE, d)


@pytest.mark.parametrize("offset", ["s", "herd"])
def test_text_offset_column(offset):
    with pytest.raises(DataError, match=f"offset column '{offset}' must be numeric"):
        glmer("incidence ~ period + (1|herd)", CB.assign(s=CB["size"].astype(str)), family="poisson", offset=offset)


@pytest.mark.parametrize("family, formula, phrase", [
    ("poisson", "z ~ period + (1|herd)", "Response is constant: every count"),
    ("binomial", "cbind(z, size) ~ period + (1|herd)", "every trial .* is a failure"),
    ("binomial", "z ~ period + (1|herd)", "every trial .* is a failure"),
    ("binomial", "cbind(size, z) ~ period + (1|herd)", "every trial .* is a success"),
    ("binomial", "cbind(herd, size) ~ period + (1|herd)", "'herd' in cbind\\(\\) must be numeric"),
])
def test_glmer_constant_response(family, formula, phrase):
    with pytest.raises(DataError, match=phrase):
        glmer(formula, CB.assign(z=0), family=family)


# --- frames of other libraries -------------------------------------------------------------------
class _FrameLike:
    """Any object with to_pandas() (polars, pyarrow tables) is converted at the boundary."""

    def __init__(self, df):
        self.df = df

    def to_pandas(self):
        return self.df.copy()


def test_duck_typed_to_pandas(base_fixef):
    np.testing.assert_allclose(lmer(BASE, _FrameLike(SS)).fixef, base_fixef, rtol=1e-10)
    g = glmer("cbind(incidence, size - incidence) ~ period + (1|herd)", _FrameLike(CB))
    np.testing.assert_allclose(g.fixef, glmer("cbind(incidence, size - incidence) ~ period + (1|herd)", CB).fixef)


@pytest.mark.parametrize("data, phrase", [
    ({"Reaction": [1.0]}, r"not builtins.dict: convert it with pd.DataFrame\(data\)"),
    (SS.to_numpy(), r"not numpy.ndarray: convert it with pd.DataFrame\(data\)"),
    (SS.to_dict("records"), "not builtins.list"),
    ("sleepstudy", r"not builtins.str: .*to_pandas\(\)"),
])
def test_not_a_frame(data, phrase):
    for fit in (lmer, glmer):
        with pytest.raises(DataError, match=phrase):
            fit(BASE, data)


def test_polars_frame(base_fixef):
    pl = pytest.importorskip("polars")
    np.testing.assert_allclose(lmer(BASE, pl.from_pandas(SS)).fixef, base_fixef, rtol=1e-10)


# --- silently wrong before -----------------------------------------------------------------------
@pytest.mark.parametrize("reml", ["FALSE", "no", "TRUE", 0, 1, None, 1.0])
def test_reml_must_be_bool(reml):
    with pytest.raises(ParameterError, match="REML must be True or False"):
        lmer(BASE, SS, REML=reml)


def test_reml_numpy_bool():
    assert lmer(BASE, SS, REML=np.bool_(False)).REML is False or not lmer(BASE, SS, REML=np.bool_(False)).REML
    np.testing.assert_allclose(lmer(BASE, SS, REML=np.bool_(False)).theta, lmer(BASE, SS, REML=False).theta)


def test_non_integer_binomial_counts_warn():
    with pytest.warns(UserWarning, match="non-integer counts in a binomial glm!"):
        glmer("cbind(incidence, size * 0.9 - incidence) ~ period + (1|herd)", CB)
    prop = CB.assign(p=CB.incidence / CB["size"], w=CB["size"] * 0.9)
    with pytest.warns(UserWarning, match=r"non-integer #successes in a binomial glm!"):
        glmer("p ~ period + (1|herd)", prop, weights="w")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        glmer("cbind(incidence, size - incidence) ~ period + (1|herd)", CB)


# --- unusual but valid inputs keep working -------------------------------------------------------
def _subject_codes():
    return pd.factorize(SS.Subject)[0]


VALID = [
    ("nullable Int64", BASE, lambda: SS.assign(Days=SS.Days.astype("Int64"))),
    ("nullable Float64", BASE, lambda: SS.assign(Reaction=SS.Reaction.astype("Float64"))),
    ("sparse", BASE, lambda: SS.assign(Days=pd.arrays.SparseArray(SS.Days.to_numpy(float)))),
    ("period grouping", "Reaction ~ Days + (1 | per)",
     lambda: SS.assign(per=pd.PeriodIndex.from_ordinals(_subject_codes(), freq="D"))),
    ("datetime grouping", "Reaction ~ Days + (1 | when)",
     lambda: SS.assign(when=pd.Timestamp("2021-01-01") + pd.to_timedelta(_subject_codes(), unit="D"))),
    ("duplicate index", BASE, lambda: SS.set_axis(np.zeros(len(SS), int))),
    ("MultiIndex rows", BASE, lambda: SS.set_index(pd.MultiIndex.from_arrays([SS.Subject, SS.Days]), drop=False)),
    ("backticked", "`re action` ~ `d d` + (1 | `sub ject`)",
     lambda: SS.rename(columns={"Reaction": "re action", "Days": "d d", "Subject": "sub ject"})),
    ("backticked dotted", "Reaction ~ `Days.n` + (1 | Subject)", lambda: SS.rename(columns={"Days": "Days.n"})),
    ("numpy calls", "Reaction ~ np.log1p(Days) + I(Days ** 2) + (1 | Subject)", lambda: SS),
]


@pytest.mark.parametrize("label, formula, make", VALID, ids=[v[0] for v in VALID])
def test_unusual_valid_inputs(label, formula, make, base_fixef):
    data = make()
    before = data.copy()
    m = lmer(formula, data)
    if formula in (BASE, "Reaction ~ Days + (1 | per)", "Reaction ~ Days + (1 | when)") or "`" in formula:
        np.testing.assert_allclose(m.fixef.to_numpy(), base_fixef, rtol=1e-7)
    else:
        assert np.isfinite(m.fixef).all() and len(m.fixef) == 3
    pd.testing.assert_frame_equal(data, before)


def test_long_formula():
    d = _wide(400, 150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)      # pure-noise data: a zero variance is fine
        m = lmer("y ~ " + " + ".join(f"v{i}" for i in range(150)) + " + (1 | g)", d)
    assert len(m.fixef) == 151
    X = np.column_stack([np.ones(400), d[[f"v{i}" for i in range(150)]].to_numpy()])
    np.testing.assert_allclose(lformula("y ~ " + " + ".join(f"v{i}" for i in range(150)) + " + (1 | g)", d).X, X)


@pytest.mark.parametrize("expr, expected", [
    ("log(Reaction)", lambda d: np.log(d.Reaction)),
    ("np.sqrt(Reaction) - 2 * Days", lambda d: np.sqrt(d.Reaction) - 2 * d.Days),
    ("I(Days^2) + -Days", lambda d: d.Days ** 2 - d.Days),
    ("numpy.log1p(Days) / 3", lambda d: np.log1p(d.Days) / 3),
    ("Days > 4", lambda d: d.Days > 4),
    ('Q("Days") % 3', lambda d: d.Days % 3),
    ("`Reaction`", lambda d: d.Reaction),
    ("scale(Days)", lambda d: (d.Days - d.Days.mean()) / d.Days.std()),
])
def test_evaluate_allowed_expressions(expr, expected):
    np.testing.assert_allclose(np.asarray(evaluate(expr, SS), float), np.asarray(expected(SS), float), rtol=1e-12)
