"""Answers as plain data (mlmkit.plain): what the sandboxed grader reads back."""
import math

import numpy as np
import pandas as pd
import pytest

import mlmkit as mk
from mlmkit import checks, plain


@pytest.fixture(scope="module")
def sleep_fit():
    return mk.lmer("Reaction ~ Days + (Days | Subject)", mk.datasets.load("sleepstudy"))


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, float("inf"), "South Korea", [1, "a", None], (1, 2.0), {"a": 1, "b": [2]},
    np.float64(0.25), np.int32(7), np.bool_(False), np.arange(6).reshape(2, 3), np.array([0.5, np.nan]),
    np.array(["a", "b"]), pd.Series([1.0, 2.0], index=["x", "y"], name="s"),
    pd.DataFrame({"a": [1, 2], "b": ["u", "v"]}, index=pd.Index([10, 20], name="id")),
])
def test_values_survive_the_round_trip(value):
    back = plain.loads(plain.dumps({"v": value}))["v"]
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value, check_dtype=False, check_index_type=False,
                                      check_column_type=False)
    elif isinstance(value, pd.Series):
        pd.testing.assert_series_equal(back, value, check_dtype=False, check_index_type=False)
    elif isinstance(value, np.ndarray):
        assert back.shape == value.shape and (back.dtype == value.dtype or value.dtype.kind == "U")
        assert all((a == b) or (a != a and b != b) for a, b in zip(back.ravel().tolist(), value.ravel().tolist()))
    elif isinstance(value, float) and math.isinf(value):
        assert back == value
    else:
        assert back == (value.item() if isinstance(value, np.generic) else value)
        assert type(back) in (type(None), bool, int, float, str, list, tuple, dict)


def test_a_model_becomes_a_read_only_record_the_checks_accept(sleep_fit):
    back = plain.loads(plain.dumps({"m": sleep_fit}))["m"]
    assert type(back).__name__ == "PlainLmerResult"
    checks.model(back, "m", kind="lmer", fixed=["(Intercept)", "Days"], random={"Subject": ["(Intercept)", "Days"]},
                 correlated=True, REML=True, nobs=180)
    np.testing.assert_allclose(back.fixef.to_numpy(), sleep_fit.fixef.to_numpy())
    np.testing.assert_allclose(back.coef["Subject"].to_numpy(), sleep_fit.coef["Subject"].to_numpy())
    assert back.sigma == sleep_fit.sigma and back.ngroups == {"Subject": 18} and back.is_singular is False
    with pytest.raises(AttributeError, match="read-only"):
        back.sigma = 1.0
    fixef = back.fixef
    fixef.iloc[0] = 0.0                                       # a copy: the record is unchanged
    assert back.fixef.iloc[0] == sleep_fit.fixef.iloc[0]
    with pytest.raises(AttributeError):
        back.refit_ml()


def test_an_object_that_claims_to_equal_everything_comes_back_as_what_it_is():
    class Anything(float):
        def __eq__(self, other):
            return True
        __hash__ = float.__hash__

    back = plain.loads(plain.dumps({"x": Anything(1.0), "y": object()}))
    assert type(back["x"]) is float and back["x"] != 2.0
    assert isinstance(back["y"], plain.Unsupported)
    with pytest.raises(AssertionError):
        checks.close(back["y"], 1.0, name="y")


@pytest.mark.parametrize("text", [
    "not json", "[" * 5000, '{"answers": 3}', '{"answers": {"x": {"__ndarray__": [1, 2], "dtype": "<f8", "shape": [3]}}}',
    '{"answers": {"x": {"__model__": "evil", "fields": {}}}}', '{"answers": {"x": {"__pickle__": "gASV"}}}',
    '{"answers": {"x": {"__ndarray__": [1], "dtype": "|O8", "shape": [1]}}}',
    '{"answers": {"x": {"__float__": "1e999"}}}',
])
def test_forged_or_broken_text_is_refused(text):
    with pytest.raises(plain.PlainDataError):
        plain.loads(text)
