"""Families and links against their definitions (R's ``family`` objects) and scipy's distributions."""
import numpy as np
import pytest
import scipy.stats

from mlmkit.errors import FamilyError
from mlmkit.spec.families import FAMILIES, binomial, get_family, poisson

BINOMIAL_LINKS = ["logit", "probit", "cauchit", "log", "cloglog"]
POISSON_LINKS = ["log", "identity", "sqrt"]


@pytest.mark.parametrize("fam,link", [("binomial", l) for l in BINOMIAL_LINKS] + [("poisson", l) for l in POISSON_LINKS])
def test_link_inverse_and_derivative(fam, link):
    f = get_family(fam, link)
    mu = np.array([0.02, 0.2, 0.5, 0.7, 0.95]) if fam == "binomial" and link != "log" else \
        (np.array([0.02, 0.2, 0.5, 0.7]) if fam == "binomial" else np.array([0.3, 1.0, 4.0, 25.0]))
    eta = f.linkfun(mu)
    np.testing.assert_allclose(f.linkinv(eta), mu, rtol=1e-12)
    h = 1e-6
    numeric = (f.linkinv(eta + h) - f.linkinv(eta - h)) / (2 * h)
    np.testing.assert_allclose(f.mu_eta(eta), numeric, rtol=1e-6)


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_binomial_mu_stays_inside_unit_interval(link):
    # lme4 clamps mu to [eps, 1 - eps] so that the log-likelihood stays finite at extreme eta
    mu = binomial(link).linkinv(np.array([-800.0, 0.0, 800.0]))
    assert np.all(mu > 0) and np.all(mu < 1)


def test_canonical_links_have_mu_eta_equal_to_variance():
    for f, mu in [(binomial(), np.array([0.1, 0.5, 0.9])), (poisson(), np.array([0.5, 3.0, 12.0]))]:
        assert f.is_canonical
        np.testing.assert_allclose(f.mu_eta(f.linkfun(mu)), f.variance(mu), rtol=1e-12)
    assert not binomial("probit").is_canonical


@pytest.mark.parametrize("y,n,mu", [(0.25, 8, 0.3), (0.0, 5, 0.2), (1.0, 3, 0.6), (1.0, 1, 0.8), (0.0, 1, 0.4)])
def test_binomial_loglik_is_dbinom_with_the_coefficient(y, n, mu):
    f = binomial()
    got = f.loglik(np.array([y]), np.array([mu]), wt=np.array([float(n)]), n=np.array([float(n)]))
    assert got[0] == pytest.approx(scipy.stats.binom.logpmf(round(y * n), n, mu), rel=1e-12)


def test_binomial_aic_uses_weights_as_trials_for_proportions():
    # R: m <- if (any(n > 1)) n else wt -- with n = 1 (proportion response) the weights are the trials
    f = binomial()
    y, wt, mu = np.array([0.5, 0.25]), np.array([4.0, 8.0]), np.array([0.4, 0.3])
    expected = -2 * (scipy.stats.binom.logpmf(2, 4, 0.4) + scipy.stats.binom.logpmf(2, 8, 0.3))
    assert f.aic(y, mu, wt) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("y,mu,wt", [(0, 0.5, 1.0), (3, 2.5, 1.0), (7, 9.0, 2.0)])
def test_poisson_loglik_is_dpois(y, mu, wt):
    got = poisson().loglik(np.array([float(y)]), np.array([mu]), np.array([wt]))
    assert got[0] == pytest.approx(wt * scipy.stats.poisson.logpmf(y, mu), rel=1e-12)


@pytest.mark.parametrize("f,y,mu,wt", [
    (binomial(), np.array([0.0, 1.0, 0.3, 0.75]), np.array([0.2, 0.6, 0.4, 0.5]), np.array([1.0, 1.0, 10.0, 4.0])),
    (poisson(), np.array([0.0, 1.0, 4.0, 9.0]), np.array([0.5, 1.5, 3.0, 12.0]), np.array([1.0, 2.0, 1.0, 1.0])),
])
def test_deviance_residuals_against_definition_and_kernel(f, y, mu, wt):
    # unit deviance 2 wt [l(y; y) - l(y; mu)]; the saturated log-likelihood has mu = y
    if f.name == "binomial":
        ll = lambda m: wt * (y * np.log(m) + (1 - y) * np.log1p(-m))
        sat = wt * np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0) + \
            wt * np.where(y < 1, (1 - y) * np.log(np.where(y < 1, 1 - y, 1)), 0)
    else:
        ll = lambda m: wt * (y * np.log(m) - m)
        sat = wt * np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0) - wt * y
    d = f.dev_resids(y, mu, wt)
    np.testing.assert_allclose(d, 2 * (sat - ll(mu)), rtol=1e-12, atol=1e-14)
    # the kernel differs from the unit deviance by a term in y alone
    mu2 = mu * 0.9
    np.testing.assert_allclose(d - f.dev_kernel(y, mu, wt), f.dev_resids(y, mu2, wt) - f.dev_kernel(y, mu2, wt),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("f,y,wt,n", [
    (binomial(), np.array([0.0, 0.5, 1.0, 0.2]), np.array([3.0, 4.0, 2.0, 5.0]), np.array([3.0, 4.0, 2.0, 5.0])),
    (binomial(), np.array([0.0, 1.0, 1.0]), np.ones(3), np.ones(3)),
    (poisson(), np.array([0.0, 2.0, 5.0]), np.array([1.0, 1.0, 3.0]), None),
])
def test_loglik_function_sums_the_elementwise_loglik(f, y, wt, n):
    mu = np.clip(y * 0.8 + 0.1, 0.05, None) if f.name == "poisson" else np.array([0.3, 0.45, 0.7, 0.25])[:len(y)]
    assert f.loglik_function(y, wt, n)(mu) == pytest.approx(f.loglik(y, mu, wt, n).sum(), rel=1e-12)


def test_mustart_is_rs_initialize():
    np.testing.assert_allclose(binomial().mustart(np.array([0.0, 1.0]), np.array([1.0, 3.0])), [0.25, 0.875])
    np.testing.assert_allclose(poisson().mustart(np.array([0.0, 2.0]), np.ones(2)), [0.1, 2.1])


def test_get_family_accepts_names_objects_and_constructors():
    assert get_family("Binomial").name == "binomial"
    assert get_family(poisson()).link.name == "log"
    assert get_family(binomial, link="probit").link.name == "probit"
    assert str(binomial("cloglog")) == "binomial(cloglog)"
    assert set(FAMILIES) == {"binomial", "poisson"}


@pytest.mark.parametrize("family,link,words", [
    ("gamma", None, ["'gamma'", "'binomial'", "'poisson'"]),
    ("gaussian", None, ["lmer"]),
    ("binomial", "loglog", ["'loglog'", "'logit'", "'probit'", "'cloglog'"]),
    ("poisson", "logit", ["'logit'", "'log'", "'sqrt'"]),
    (3, None, ["int"]),
])
def test_unknown_family_or_link_names_the_valid_ones(family, link, words):
    with pytest.raises(FamilyError) as err:
        get_family(family, link)
    for w in words:
        assert w in str(err.value)
