"""mlmkit.engine.crossed: pair incidence, reduced matrix and starting values for all-scalar crossed models."""
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from mlmkit.engine.crossed import ScalarCross, cholesky_lower, single_term_start
from mlmkit.spec.design import lformula
from mlmkit.engine.linalg import PLSSystem
from mlmkit.lmm import lmer, mk_lmer_devfun
from reference_fits import case_data, reference


def _crossed_data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    a, b, c = rng.integers(0, 40, n), rng.integers(0, 15, n), rng.integers(0, 6, n)
    y = rng.normal(size=40)[a] + 0.5 * rng.normal(size=15)[b] + 0.3 * rng.normal(size=6)[c] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": rng.normal(size=n), "a": a, "b": b, "c": c})


def test_pair_sums_equal_the_sparse_product():
    rng = np.random.default_rng(1)
    A21 = sp.random(30, 50, density=0.15, random_state=2, format="csr") * 3.0
    cr = ScalarCross.build(A21)
    c = rng.uniform(0.1, 2.0, 50)
    full = (A21 @ sp.diags(c) @ A21.T).toarray()
    np.testing.assert_allclose(cr.pair_sums(c), full[cr.rows, cr.cols], rtol=1e-13)
    # every nonzero of the lower triangle is one of the pairs, and each pair once
    assert np.count_nonzero(np.tril(full)) == cr.n_pairs
    assert np.all(cr.rows >= cr.cols)


@pytest.mark.parametrize("formula", ["y ~ x + (1 | a) + (1 | b) + (1 | c)", "y ~ 1 + (1 | a) + (1 | a:b)",
                                     "y ~ x + (1 | b) + (0 + x | a)"])
def test_factor_through_pairs_equals_sparse_products(formula):
    d = lformula(formula, _crossed_data())
    fast = PLSSystem(d.structure, d.X, d.y, crossed=True)
    slow = PLSSystem(d.structure, d.X, d.y)
    assert fast.crossed is not None and slow.crossed is None
    rng = np.random.default_rng(4)
    for theta in [d.theta_start, rng.uniform(0.05, 2.0, d.n_theta), np.r_[0.0, rng.uniform(0.1, 1, d.n_theta - 1)]]:
        f1, f2 = fast.factor(theta), slow.factor(theta)
        np.testing.assert_allclose(f1.L22, f2.L22, rtol=1e-10, atol=1e-12)
        assert f1.ldL2 == pytest.approx(f2.ldL2, rel=1e-12)
        assert f1.r2 == pytest.approx(f2.r2, rel=1e-12)
        np.testing.assert_allclose(f1.beta, f2.beta, rtol=1e-10)


def test_cholesky_lower_reads_only_the_lower_triangle():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 9))
    S = A @ A.T
    M = S.copy()
    M[np.triu_indices(6, 1)] = 1e6                          # garbage above the diagonal
    np.testing.assert_allclose(cholesky_lower(M), np.linalg.cholesky(S), rtol=1e-12)
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        cholesky_lower(-np.eye(3))


def test_single_term_start_is_each_terms_own_fit():
    df = _crossed_data(3)
    formula = "y ~ x + (1 | a) + (1 | b) + (1 | c)"
    f = mk_lmer_devfun(lformula(formula, df))
    start = single_term_start(f.system, f._criterion)
    alone = [lmer(f"y ~ x + (1 | {g})", df, warn=False).theta[0] for g in ("a", "b", "c")]
    np.testing.assert_allclose(start, alone, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("cid", ["penicillin", "pastes"])
def test_gradient_optimizer_from_single_term_start_reaches_lme4(cid):
    case = reference("lmer")[cid]
    m = lmer(case["formula"], case_data(case), REML=case["REML"], optimizer="L-BFGS-B")
    target = case["reml_criterion"] if case["REML"] else case["deviance"]
    assert m.deviance <= target + 1e-8
    np.testing.assert_allclose(m.theta, case["theta"], rtol=2e-4, atol=1e-5)
