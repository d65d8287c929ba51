"""A fitted model cannot be changed through what it hands out (mlmkit.frozen)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmkit
from mlmkit import datasets
from mlmkit.frozen import frozen_cached, public_copy, read_only


def _sleep():
    return mlmkit.lmer("Reaction ~ Days + (Days | Subject)", datasets.load("sleepstudy"))


def _rats():
    return mlmkit.glmer("cbind(m, n - m) ~ 1 + (1 | batch)", datasets.load("rats"), family="binomial")


def _snapshot(m):
    """Everything a learner reads off a fit, as plain copies."""
    newdata = datasets.load("sleepstudy").head(5) if m.family is None else datasets.load("rats").head(5)
    return {
        "theta": np.array(m.theta), "fixef": m.fixef.to_numpy().copy(), "vcov": m.vcov.to_numpy().copy(),
        "varcorr": m.varcorr["vcov"].to_numpy().copy(), "loglik": m.loglik, "sigma": m.sigma,
        "ranef": {g: r.to_numpy().copy() for g, r in m.ranef.items()},
        "coef": {g: c.to_numpy().copy() for g, c in m.coef.items()},
        "fitted": np.array(m.fitted), "predict": np.array(m.predict(newdata)),
        "summary": str(m.summary()), "wald": m.confint(method="Wald").to_numpy().copy(),
    }


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            for g in a[k]:
                np.testing.assert_array_equal(a[k][g], b[k][g], err_msg=k)
        elif isinstance(a[k], str):
            assert a[k] == b[k], k
        else:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _edit_theta(m):
    m.theta[:] = 0


def _edit_fixef(m):
    f = m.fixef
    f.iloc[-1] = 0.0


def _edit_fixef_by_name(m):
    f = m.fixef                      # `m.fixef["Days"] = 0` in one step, as a learner writes it
    f[f.index[0]] = 123.0


def _edit_ranef(m):
    r = next(iter(m.ranef.values()))
    r.iloc[:, 0] = 0.0


def _edit_ranef_dict(m):
    m.ranef.clear()


def _edit_coef(m):
    c = next(iter(m.coef.values()))
    c.iloc[0, 0] = 99.0


def _edit_vcov(m):
    v = m.vcov
    v.iloc[0, 0] = 0.0


def _edit_varcorr(m):
    vc = m.varcorr
    vc.loc[0, "vcov"] = 0.0


def _edit_fitted(m):
    m.fitted[:] = 0.0


EDITS = [_edit_theta, _edit_fixef, _edit_fixef_by_name, _edit_ranef, _edit_ranef_dict, _edit_coef,
         _edit_vcov, _edit_varcorr, _edit_fitted]


@pytest.mark.parametrize("fit", [_sleep, _rats], ids=["lmer", "glmer"])
@pytest.mark.parametrize("edit", EDITS, ids=lambda f: f.__name__[1:])
def test_an_edit_never_reaches_the_fit(fit, edit):
    m = fit()
    before = _snapshot(m)
    try:
        edit(m)
    except ValueError as e:                    # numpy's read-only guard is an acceptable answer too
        assert "read-only" in str(e)
    _assert_same(before, _snapshot(m))


def test_arrays_are_read_only_views_and_pandas_objects_copies():
    m = _sleep()
    assert not m.theta.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        m.theta[0] = 1.0
    assert m.fixef is not m.fixef and m.ranef["Subject"] is not m.ranef["Subject"]


def test_frozen_cached_computes_once():
    calls = []

    class Thing:
        @frozen_cached
        def value(self):
            calls.append(1)
            return pd.Series([1.0, 2.0])

    t = Thing()
    t.value.iloc[0] = 5.0
    assert t.value.iloc[0] == 1.0 and len(calls) == 1


def test_helpers():
    a = np.arange(3.0)
    v = read_only(a)
    assert not v.flags.writeable and a.flags.writeable and np.shares_memory(a, v)
    d = {"x": pd.DataFrame({"a": [1.0]})}
    c = public_copy(d)
    c["x"].iloc[0, 0] = 2.0
    assert d["x"].iloc[0, 0] == 1.0


def test_assignment_is_refused():
    m = _sleep()
    with pytest.raises(AttributeError):
        m.fixef = None
