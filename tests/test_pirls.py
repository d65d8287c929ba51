"""PIRLS, the reweightable PLS solver and the Laplace / AGQ deviances, checked from first principles."""
import numpy as np
import pandas as pd
import pytest
import scipy.integrate
import scipy.stats

from mlmkit.spec.design import lformula
from mlmkit.glmm import glmer_design
from mlmkit.engine.linalg import PLSSystem
from mlmkit.engine.pirls import GlmerDevFun, gh_rule
from mlmkit.engine.wpls import DensePLS, WeightedPLS


def _data(seed=1):
    rng = np.random.default_rng(seed)
    n = 600
    df = pd.DataFrame({
        "a": rng.integers(0, 40, n).astype(str),       # 40 levels: block 1
        "b": rng.integers(0, 12, n).astype(str),       # crossed, 12 levels: dense coupling
        "c": (np.arange(n) % 150).astype(str),         # 150 levels
        "x": rng.normal(size=n), "z": rng.normal(size=n),
    })
    df["y"] = rng.poisson(np.exp(0.3 + 0.4 * df.x)).astype(float)
    return df


# formula, what it exercises
DESIGNS = [
    ("y ~ x + (1 | a)", "scalar block 1 only"),
    ("y ~ x + (1 + x | a)", "vector block 1 (batched 2 x 2 factors)"),
    ("y ~ x + (1 | a) + (1 | b)", "crossed scalar factors, dense coupling"),
    ("y ~ x + (1 | c) + (1 | a) + (1 | b)", "three factors, sparse coupling of c with a and b"),
    ("y ~ x + (1 + x | a) + (1 | b)", "vector block 1 with a crossed factor"),
    ("y ~ x + (1 | c) + (1 + z | b)", "vector term in block 2 (non-diagonal Lambda_2)"),
]


@pytest.mark.parametrize("solver", [WeightedPLS, DensePLS])
@pytest.mark.parametrize("formula,what", DESIGNS)
def test_weighted_pls_matches_lmer_factorisation(formula, what, solver):
    """Same weighted penalised least squares problem, three implementations: linalg.PLSSystem (lmer),
    the blocked WeightedPLS and the dense DensePLS."""
    df = _data()
    d = lformula(formula, df, check_levels=False)
    rng = np.random.default_rng(7)
    theta = np.where(d.theta_lower == 0, rng.uniform(0.4, 1.5, d.n_theta), rng.uniform(-0.5, 0.5, d.n_theta))
    w = rng.uniform(0.2, 3.0, d.nobs)
    z = rng.normal(size=d.nobs)
    pls = solver(d)
    lams = pls.lambdas(theta)
    ref = PLSSystem(d.structure, d.X, z, np.sqrt(w)).factor(theta)
    joint = pls.solve(theta, lams, w, z, d.X)
    assert joint.ldL2 == pytest.approx(ref.ldL2, rel=1e-11)
    np.testing.assert_allclose(joint.beta, ref.beta, rtol=1e-9)
    u1, u2 = ref.u()
    np.testing.assert_allclose(joint.u1, u1, rtol=1e-8, atol=1e-10)
    if u2 is not None:
        np.testing.assert_allclose(joint.u2, u2, rtol=1e-8, atol=1e-10)
    RXinv = np.linalg.inv(joint.RX)
    np.testing.assert_allclose(RXinv.T @ RXinv, ref.vcov_unscaled, rtol=1e-9)
    # u only, beta fixed: z already has X beta removed
    beta = np.array([0.2, -0.1])
    only = pls.solve(theta, lams, w, z - d.X @ beta)
    ref0 = PLSSystem(d.structure, np.empty((d.nobs, 0)), z - d.X @ beta, np.sqrt(w)).factor(theta)
    v1, v2 = ref0.u(np.empty(0))
    np.testing.assert_allclose(only.u1, v1, rtol=1e-8, atol=1e-10)
    assert pls.logdet(theta, lams, w)[0] == pytest.approx(ref.ldL2, rel=1e-12)
    np.testing.assert_allclose(pls.Zb(lams, joint.u1, joint.u2), d.structure.Zb(*ref.b()), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("formula,what", DESIGNS[:4])
def test_sparse_fallback_gives_the_same_solution(formula, what):
    df = _data()
    d = lformula(formula, df, check_levels=False)
    theta = np.where(d.theta_lower == 0, 0.8, 0.1)
    rng = np.random.default_rng(3)
    w, z = rng.uniform(0.5, 2.0, d.nobs), rng.normal(size=d.nobs)
    pls = WeightedPLS(d)
    a = pls.solve(theta, pls.lambdas(theta), w, z, d.X)
    pls.dense = False
    b = pls.solve(theta, pls.lambdas(theta), w, z, d.X)
    assert a.ldL2 == pytest.approx(b.ldL2, rel=1e-11)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-9)


@pytest.mark.parametrize("formula", ["y ~ x + (1 | a) + (1 | b)", "y ~ x + (1 + x | a)"])
def test_pirls_finds_the_conditional_mode(formula):
    """At the mode the gradient of Σ dᵢ(u) + ‖u‖² vanishes: u = Λ'Z' wt (y − μ) μ'/V(μ)."""
    gd = glmer_design(formula, _data(), "poisson")
    f = GlmerDevFun(gd.design, gd.response)
    theta = np.where(gd.design.theta_lower == 0, 0.7, -0.2)
    st = f.pirls(theta, np.array([0.25, 0.35]))
    resid = gd.response.weights * (gd.response.y - st.mu)            # canonical link: μ'/V = 1
    lam1, lam2 = f.pls.lambdas(theta)
    s = gd.design.structure
    g1 = np.stack([np.bincount(s.codes1, s.z1[:, j] * resid, minlength=s.n1) for j in range(s.q1)], axis=1) @ lam1
    np.testing.assert_allclose(g1, st.u1, atol=1e-9)
    if st.u2 is not None:
        g2 = f.pls.lam2_times(lam2, s.Z2.T @ resid, transpose=True)
        np.testing.assert_allclose(g2, st.u2, atol=1e-9)


def _binomial_groups(seed=5, groups=15):
    rng = np.random.default_rng(seed)
    size = rng.integers(3, 12, groups)
    b = rng.normal(0, 0.8, groups)
    m = rng.binomial(size, 1 / (1 + np.exp(-(-0.5 + b))))
    return pd.DataFrame({"g": [f"g{i:02d}" for i in range(groups)], "m": m, "n": size})


def test_agq_deviance_is_the_marginal_likelihood_up_to_the_saturated_constant():
    """lme4's AGQ deviance = −2 log ∫ Π p(y|u) φ(u) du + 2 Σ log p(yᵢ | μᵢ = yᵢ) (no binomial coefficients)."""
    df = _binomial_groups()
    gd = glmer_design("cbind(m, n - m) ~ 1 + (1 | g)", df, "binomial")
    f = GlmerDevFun(gd.design, gd.response, nAGQ=25)
    sigma, beta = 0.9, -0.4
    dev = f(np.array([sigma, beta]))
    loglik = 0.0
    for m, n in zip(df.m, df.n):
        integrand = lambda u: scipy.stats.binom.pmf(m, n, 1 / (1 + np.exp(-(beta + sigma * u)))) * scipy.stats.norm.pdf(u)
        loglik += np.log(scipy.integrate.quad(integrand, -12, 12, epsabs=1e-14, epsrel=1e-12)[0])
    r = gd.response
    saturated = r.family.loglik(r.y, r.y, r.weights, r.trials).sum()
    coef = scipy.stats.binom.logpmf(df.m, df.n, 0.5).sum() - (df.m * np.log(0.5) + (df.n - df.m) * np.log(0.5)).sum()
    # the binomial coefficients cancel between the marginal likelihood and the saturated term
    assert dev == pytest.approx(-2 * loglik + 2 * saturated, abs=1e-7)
    assert coef != 0      # the constants are not trivially zero in this data


def test_laplace_is_close_to_agq_and_includes_the_full_density():
    df = _binomial_groups()
    gd = glmer_design("cbind(m, n - m) ~ 1 + (1 | g)", df, "binomial")
    x = np.array([0.9, -0.4])
    lap = GlmerDevFun(gd.design, gd.response, nAGQ=1)(x)
    agq = GlmerDevFun(gd.design, gd.response, nAGQ=25)(x)
    r = gd.response
    saturated = r.family.loglik(r.y, r.y, r.weights, r.trials).sum()
    # AGQ + the full-density constant is the (nearly exact) marginal deviance; Laplace approximates
    # it (to 0.5% with 3 to 11 trials per group), while the two raw values differ by the constant
    assert lap == pytest.approx(agq - 2 * saturated, rel=5e-3)
    assert abs(lap - agq) > 10


def test_gauss_hermite_rule_integrates_normal_moments():
    z, w = gh_rule(9)
    assert w.sum() == pytest.approx(1.0)
    assert (w * z ** 2).sum() == pytest.approx(1.0)
    assert (w * z ** 4).sum() == pytest.approx(3.0)


def test_warm_start_does_not_change_the_deviance():
    gd = glmer_design("y ~ x + (1 | a) + (1 | b)", _data(), "poisson")
    f = GlmerDevFun(gd.design, gd.response)
    x = np.array([0.5, 0.3, 0.2, 0.35])
    first = f(x)
    f(np.array([1.5, 0.1, -0.3, 0.9]))       # move the warm start far away
    again = f(x)
    fresh = GlmerDevFun(gd.design, gd.response)(x)
    assert again == pytest.approx(first, abs=1e-9)
    assert fresh == pytest.approx(first, abs=1e-9)


@pytest.mark.parametrize("formula", ["y ~ x + (1 | a)", "y ~ x + (1 + x | a)"])
def test_batched_pirls_equals_one_by_one(formula):
    """GlmerDevFun.batch (all points at once, one grouping factor) against single evaluations."""
    gd = glmer_design(formula, _data(), "poisson")
    f = GlmerDevFun(gd.design, gd.response)
    x0 = np.concatenate([np.where(gd.design.theta_lower == 0, 0.6, 0.1), [0.3, 0.4]])
    f(x0)
    rng = np.random.default_rng(11)
    xs = x0 + rng.normal(0, 0.05, (12, len(x0)))
    xs[:, 0] = np.abs(xs[:, 0])
    together = f.batch(xs)
    single = []
    for x in xs:
        f(x0)
        single.append(f(x))
    np.testing.assert_allclose(together, single, rtol=0, atol=1e-9)


def test_dense_and_blocked_solvers_give_the_same_deviance():
    gd = glmer_design("y ~ x + (1 | a) + (1 + z | b)", _data(), "poisson")
    dense = GlmerDevFun(gd.design, gd.response)
    assert isinstance(dense.pls, DensePLS)
    blocked = GlmerDevFun(gd.design, gd.response)
    object.__setattr__(blocked, "pls", WeightedPLS(gd.design))
    x = np.array([0.5, 0.4, 0.1, 0.3, 0.2, 0.35])
    assert dense(x) == pytest.approx(blocked(x), abs=1e-9)
    assert dense.stage1(x[:4]) == pytest.approx(blocked.stage1(x[:4]), abs=1e-9)


def test_aic_from_the_deviance_kernel():
    df = _binomial_groups()
    gd = glmer_design("cbind(m, n - m) ~ 1 + (1 | g)", df, "binomial")
    r = gd.response
    mu = np.linspace(0.2, 0.6, len(df))
    assert r.kernel_to_aic is not None
    assert r.aic_from(mu, r.kernel(mu).sum()) == pytest.approx(r.aic(mu), rel=1e-12)
    # non-integer successes: R's aic rounds m·y, the deviance does not, so no shortcut
    with pytest.warns(UserWarning, match="non-integer"):
        frac = glmer_design("p ~ 1 + (1 | g)", df.assign(p=(df.m + 0.5) / (df.n + 1)), "binomial", weights="n")
    assert frac.response.kernel_to_aic is None


def test_predicted_starts_give_the_same_values_for_crossed_factors():
    """The one-by-one path of batch() starts PIRLS at first-order predictions; values must not move."""
    gd = glmer_design("y ~ x + (1 | a) + (1 | b)", _data(), "poisson")
    f = GlmerDevFun(gd.design, gd.response)
    x0 = np.array([0.6, 0.3, 0.25, 0.35])
    f(x0)
    E = np.eye(4) * 1e-4
    ii, jj = np.tril_indices(4, -1)
    xs = np.vstack([x0 + E, x0 - E, x0 + E[ii] + E[jj], x0 - E[ii] - E[jj]])
    together = f.batch(xs)
    fresh = GlmerDevFun(gd.design, gd.response)
    single = []
    for x in xs:
        fresh(x0)
        single.append(fresh(x))
    np.testing.assert_allclose(together, single, rtol=0, atol=1e-10)
