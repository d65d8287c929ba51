"""Memory properties of the design and the large-data paths (issue 17): each test fails if the
n-long copy it guards against comes back."""
from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

import mlmkit
import mlmkit.engine.onefactor
from mlmkit.spec.design import lformula
from mlmkit.glmm import glmer_design
from mlmkit.engine.linalg import PLSSystem
from mlmkit.spec.reterms import REStructure


def _data(n=30_000, k=300, seed=1):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, k, n).astype(np.int32)
    x = rng.standard_normal(n)
    eta = -0.3 + 0.5 * x + rng.normal(0, 0.8, k)[g] + rng.normal(0, 0.3, k)[g] * x
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.mark.parametrize("g", [np.array([3, 1, 2, 3] * 5), np.array([10**12, 5, 7, 5] * 5),
                               np.array(list("badc") * 5), pd.Categorical(list("abcd") * 5)])
def test_grouping_codes_are_int32(g):
    df = pd.DataFrame({"y": np.arange(20.0) % 3, "g": g})
    t = lformula("y ~ 1 + (1 | g)", df).terms[0]
    assert t.codes.dtype == np.int32


def test_ids_already_codes_share_our_copy_and_the_caller_frame_is_untouched():
    df = _data(2_000, 50)
    before = df.copy()
    d = lformula("y ~ x + (1 + x | g)", df)
    t = d.terms[0]
    # the codes are our column copy itself (0..k-1 int32 ids), read-only; never the caller's array
    assert t.codes is d.columns["g"] and not t.codes.flags.writeable
    for c in df.columns:
        assert not np.shares_memory(df[c].to_numpy(), d.columns[c])
    pd.testing.assert_frame_equal(df, before)
    kept = {c: np.array(d.columns[c]) for c in df.columns}
    df.loc[0, "g"], df.loc[0, "x"] = 49, 99.0           # the caller may change their data afterwards
    for c in df.columns:
        np.testing.assert_array_equal(d.columns[c], kept[c])


def test_X_is_read_only_and_shared_with_columns_and_terms():
    df = _data(2_000, 50)
    d = lformula("y ~ x + (1 + x | g)", df)
    assert not d.X.flags.writeable
    assert np.shares_memory(d.columns["x"], d.X)             # one copy of x, not two
    assert np.shares_memory(d.terms[0].values, d.X)         # (1 + x | g) is X's two columns
    d1 = lformula("y ~ 0 + x + (1 | g)", df)
    ones = d1.terms[0].values
    assert ones.strides[0] == 0 and not ones.flags.writeable and np.all(ones == 1.0)


def test_constant_weights_offset_trials_are_read_only_views():
    df = _data(2_000, 50)
    gd = glmer_design("y ~ x + (1 | g)", df, "binomial")
    r = gd.response
    for v in (r.weights, r.trials, r.offset):
        assert v.strides == (0,) and not v.flags.writeable and v.shape == (len(df),)
    assert np.shares_memory(r.y, gd.design.columns["y"])   # float64 0/1 response: no copy
    assert "response" not in gd.design.__dict__            # the response DataFrame was never built
    w = np.full(len(df), 2.0)
    gw = glmer_design("y ~ x + (1 | g)", df, "binomial", weights=w)
    assert gw.response.weights.strides != (0,) and not np.shares_memory(gw.response.weights, w)


def test_one_factor_blocks_give_the_single_pass_fit(monkeypatch):
    df = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = mlmkit.glmer("y ~ x + (1 + x | g)", df, family="binomial")
        monkeypatch.setattr(mlmkit.engine.onefactor, "BLOCK_ROWS", 1_000)
        b = mlmkit.glmer("y ~ x + (1 + x | g)", df, family="binomial")
    assert a.devfun.fast is not None and len(b.devfun.fast.blocks) > 20 > len(a.devfun.fast.blocks)
    assert a.opt.state.eta_rows is None                     # not materialised by the fit
    assert b.loglik == pytest.approx(a.loglik, abs=1e-8)
    np.testing.assert_allclose(b.fixef, a.fixef, rtol=1e-7)
    np.testing.assert_allclose(b.fitted, a.fitted, atol=1e-8)
    # η is computed on first use, from the mode, equal to offset + Xβ + Zb
    st = a.opt.state
    b1 = a.ranef["g"].to_numpy()
    g = df["g"].to_numpy()
    eta = a.fixef.iloc[0] + a.fixef.iloc[1] * df["x"] + b1[g, 0] + b1[g, 1] * df["x"]
    np.testing.assert_allclose(st.eta, eta, atol=1e-8)


def test_crossed_products_from_codes_match_sparse_products():
    rng = np.random.default_rng(3)
    n = 5_000
    df = pd.DataFrame({"y": rng.standard_normal(n), "x": rng.standard_normal(n),
                       "a": rng.integers(0, 60, n), "b": rng.integers(0, 25, n), "c": rng.integers(0, 7, n)})
    d = lformula("y ~ x + (1 | a) + (1 | b) + (0 + x | c)", df)
    s = d.structure
    fast = PLSSystem(s, d.X, d.y, crossed=True)
    assert "Z2" not in s.__dict__                              # Z2 was not built
    slow = PLSSystem(REStructure.from_terms(d.terms, n), d.X, d.y, sqrtw=np.ones(n))
    np.testing.assert_allclose(fast.A22, slow.A22, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.A21.toarray(), slow.A21.toarray(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.B2, slow.B2, rtol=1e-12, atol=1e-10)


def test_glmer_peak_allocations_stay_near_four_times_the_data():
    """The traced allocations (numpy reports its buffers to tracemalloc: deterministic, not timed)
    of a 200,000-row one-factor binomial fit: ~4× the data arrays (it was ~11×; 5× leaves room for
    the per-group arrays, which weigh more at this size than at a million rows)."""
    df = _data(200_000, 2_000, seed=5)
    data_bytes = sum(df[c].to_numpy().nbytes for c in df.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tracemalloc.start()
        try:
            m = mlmkit.glmer("y ~ x + (1 + x | g)", df, family="binomial")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert m.devfun.fast is not None
    assert peak < 5.0 * data_bytes, peak / data_bytes
