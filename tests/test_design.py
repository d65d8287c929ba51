"""lformula: model matrices, R's names, level labels, term order, missing values."""
import numpy as np
import pandas as pd
import pytest

from mlmkit.spec.design import factor_codes, lformula, r_name
from mlmkit.errors import DataError


@pytest.mark.parametrize("formulaic,r", [
    ("Intercept", "(Intercept)"), ("x", "x"), ("f[T.b]", "fb"), ("x:f[T.b]", "x:fb"),
    ("period[T.2]", "period2"), ("f[a]", "fa"), ("np.log(x)", "np.log(x)"),
])
def test_r_names(formulaic, r):
    assert r_name(formulaic) == r


@pytest.mark.parametrize("values,labels,codes", [
    ([3, 1, 2, 3], ["1", "2", "3"], [2, 0, 1, 2]),
    ([3.0, 10.0, 2.0], ["2", "3", "10"], [1, 2, 0]),
    (["b", "a", "b"], ["a", "b"], [1, 0, 1]),
    (["10", "9", "100"], ["10", "100", "9"], [0, 2, 1]),               # text sorts as text, as in R
    (pd.Categorical(["lo", "hi"], categories=["lo", "hi", "unused"]), ["lo", "hi"], [0, 1]),
    ([True, False], ["FALSE", "TRUE"], [1, 0]),
])
def test_factor_codes(values, labels, codes):
    c, lab = factor_codes(values)
    assert list(lab) == labels and list(c) == codes


def _data(n=60, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n), "f": rng.choice(list("abc"), n),
                         "g": np.repeat(np.arange(6), n // 6), "h": np.tile(np.arange(4), n // 4)[:n]})


def test_fixed_matrix_with_factors_and_functions():
    d = lformula("y ~ x * f + np.log(x**2) + (1 | g)", _data())
    assert d.fixef_names == ("(Intercept)", "x", "fb", "fc", "np.log(x ** 2)", "x:fb", "x:fc")
    assert d.X.shape == (60, 7)


def test_terms_ordered_by_levels_and_theta_layout():
    d = lformula("y ~ x + (x | g) + (1 | h)", _data())
    assert [t.group for t in d.terms] == ["g", "h"]                 # 6 levels before 4
    assert [t.theta_offset for t in d.terms] == [0, 3]
    np.testing.assert_array_equal(d.theta_start, [1, 0, 1, 1])
    np.testing.assert_array_equal(d.theta_lower, [0, -np.inf, 0, 0])
    assert d.terms[0].columns == ("(Intercept)", "x")


def test_interaction_grouping_labels():
    d = lformula("y ~ 1 + (1 | g/h)", _data())
    inner = [t for t in d.terms if t.group == "h:g"][0]
    assert inner.levels[0] == "0:0" and inner.n_levels == 24


def test_missing_values_are_dropped_and_counted():
    df = _data()
    df.loc[[1, 7], "x"] = np.nan
    df.loc[3, "f"] = None                          # f is not in the formula: no effect
    d = lformula("y ~ x + (1 | g)", df)
    assert d.nobs == 58 and d.n_dropped == 2
    assert df["x"].isna().sum() == 2               # input untouched


def test_lambda_block_from_theta():
    d = lformula("y ~ x + (x | g)", _data())
    np.testing.assert_array_equal(d.terms[0].lambda_block(np.array([2.0, 0.5, 3.0])), [[2.0, 0.0], [0.5, 3.0]])


def test_bad_data_type():
    with pytest.raises(DataError, match="DataFrame"):
        lformula("y ~ x + (1 | g)", [[1, 2]])


def test_design_does_not_follow_later_changes_to_the_callers_data():
    df = _data()
    d = lformula("y ~ x + (x | g)", df)
    y0, x0 = d.y.copy(), d.X[:, 1].copy()
    df.loc[0, "y"] = 1e6                            # the caller edits their frame after the fit
    df["x"] *= 2.0
    np.testing.assert_array_equal(d.y, y0)
    np.testing.assert_array_equal(d.X[:, 1], x0)
    np.testing.assert_array_equal(d.frame["y"], y0)


@pytest.mark.parametrize("kind", ["object", "string", "category", "int", "Int64"])
def test_columns_of_any_pandas_type_give_the_same_design(kind):
    df = _data()
    g = df["g"].astype(str).map(lambda s: "s" + s)
    df["g"] = {"object": g.astype(object), "string": g.astype("string"), "category": g.astype("category"),
               "int": df["g"], "Int64": df["g"].astype("Int64")}[kind]
    d = lformula("y ~ x + f + (1 | g)", df)
    assert d.terms[0].n_levels == 6 and d.fixef_names == ("(Intercept)", "x", "fb", "fc")
    np.testing.assert_array_equal(d.terms[0].codes, np.repeat(np.arange(6), 10))
    assert isinstance(d.frame, pd.DataFrame) and list(d.frame.columns) == ["y", "x", "f", "g"]


def test_response_expression_and_frame_of_the_rows_used():
    df = _data()
    df.loc[2, "x"] = np.nan
    d = lformula("np.exp(y) ~ x + (1 | g)", df)
    np.testing.assert_allclose(d.y, np.exp(df["y"].drop(index=2).to_numpy()))
    assert d.response.columns.tolist() == ["np.exp(y)"] and len(d.response) == 59
    assert d.frame.index.equals(pd.RangeIndex(59))


def test_duplicated_column_names_are_a_clear_error():
    df = _data()
    df = pd.concat([df, df[["x"]]], axis=1)
    with pytest.raises(DataError, match="more than one column named 'x'"):
        lformula("y ~ x + (1 | g)", df)
    lformula("y ~ 1 + (1 | g)", df)                   # a duplicate the formula does not use is fine
