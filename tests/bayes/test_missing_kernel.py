"""The low-rank likelihood of respondents with blanks (`bayes/kernels/missing.py`) equals the
exact per-pattern likelihood (`PatternLoglik`'s kernel) and a brute-force sum of scipy
log-densities: values to 1e-10 relative, gradients to 1e-10 of their largest entry, on every
route (low-rank, direct, mixed), through the PyTensor Op (numba and numpy) and its JAX twin."""

from __future__ import annotations

import numba
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.stats import multivariate_normal

from bayeslead.bayes.kernels.missing import em_moments, rows_loglik
from bayeslead.bayes.kernels.missing_op import missing_loglik
from bayeslead.bayes.kernels.missing_rows import row_data, row_layout
from bayeslead.bayes.kernels.moments import pattern_moments
from bayeslead.bayes.kernels.ops import pattern_terms
from bayeslead.core.mvnorm import em_saturated
from bayeslead.data.patterns import pattern_groups

RATES = [0.01, 0.05, 0.20]
ROUTES = [0.0, 0.5, 1.0]  # direct route for every / the mostly-missing / no incomplete pattern


def survey(n: int, p: int, rate: float, seed: int):
    """Factor-model data with MCAR blanks, plus respondents with all but one item missing (twice
    the same pattern, and others), complete respondents, and a (Sigma, mu) away from the data."""
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.5, 0.9, size=(p, 2)) * (rng.random((p, 2)) < 0.6)
    sigma0 = lam @ lam.T + np.diag(rng.uniform(0.3, 0.7, p))
    x = rng.multivariate_normal(rng.normal(size=p), sigma0, size=n)
    x[rng.random(x.shape) < rate] = np.nan
    for row, keep in [(0, 0), (1, 0), (2, p - 1), (3, p // 2)]:
        x[row] = np.nan
        x[row, keep] = rng.normal()
    x[4:10] = rng.multivariate_normal(np.zeros(p), sigma0, size=6)  # complete
    a = rng.normal(size=(p, p))
    sigma = sigma0 + 0.2 * a @ a.T / p
    return x, sigma, rng.normal(scale=0.5, size=p)


def per_pattern(x, sigma, mu):
    """The per-pattern kernel of `PatternLoglik` (one factorisation of Sigma_oo per pattern)."""
    m = pattern_moments(pattern_groups(x), x.shape[1])
    value, g_sigma, g_mu, *_ = pattern_terms(
        sigma, mu, m.observed, m.weight, m.count, m.scatter, m.mean, True
    )
    return value, g_sigma, g_mu


def brute_force(x, sigma, mu):
    """Sum of scipy log-densities (2 pi constant removed) and per-respondent gradients."""
    p = x.shape[1]
    value, g_sigma, g_mu = 0.0, np.zeros((p, p)), np.zeros(p)
    for row in x:
        o = np.flatnonzero(~np.isnan(row))
        s = sigma[np.ix_(o, o)]
        value += multivariate_normal(mu[o], s).logpdf(row[o]) + 0.5 * len(o) * np.log(2 * np.pi)
        inv = np.linalg.inv(s)
        a = inv @ (row[o] - mu[o])
        g_sigma[np.ix_(o, o)] += -0.5 * (inv - np.outer(a, a))
        g_mu[o] += a
    return value, g_sigma, g_mu


def assert_same(got, expected):
    value, g_sigma, g_mu = got
    assert abs(value - expected[0]) <= 1e-10 * abs(expected[0])
    assert np.max(np.abs(g_sigma - expected[1])) <= 1e-10 * np.max(np.abs(expected[1]))
    assert np.max(np.abs(g_mu - expected[2])) <= 1e-10 * np.max(np.abs(expected[2]))


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("direct_above", ROUTES)
def test_equals_the_per_pattern_likelihood(rate, direct_above):
    x, sigma, mu = survey(400, 12, rate, seed=int(rate * 100))
    value, g_sigma, g_mu, ok = rows_loglik(sigma, mu, *row_data(x, direct_above).arrays, True)
    assert ok
    assert_same((value, g_sigma, g_mu), per_pattern(x, sigma, mu))
    assert rows_loglik(sigma, mu, *row_data(x, direct_above).arrays, False)[0] == value


@pytest.mark.parametrize("rate", RATES)
def test_equals_a_brute_force_scipy_sum(rate):
    x, sigma, mu = survey(150, 9, rate, seed=7 + int(rate * 100))
    expected = brute_force(x, sigma, mu)
    for direct_above in ROUTES:
        value, g_sigma, g_mu, _ = rows_loglik(sigma, mu, *row_data(x, direct_above).arrays, True)
        assert_same((value, g_sigma, g_mu), expected)


def test_complete_rows_and_single_item_rows():
    """Only complete respondents (the sufficient statistics alone), and only respondents with one
    observed item (every pattern on the direct route, or every one low-rank with k = p - 1)."""
    rng = np.random.default_rng(3)
    x, sigma, mu = survey(60, 6, 0.0, seed=3)
    x = x[~np.isnan(x).any(axis=1)]
    assert_same(rows_loglik(sigma, mu, *row_data(x).arrays, True)[:3], brute_force(x, sigma, mu))
    single = np.full((40, 6), np.nan)
    single[np.arange(40), rng.integers(0, 6, 40)] = rng.normal(size=40)
    for direct_above in ROUTES:
        got = rows_loglik(sigma, mu, *row_data(single, direct_above).arrays, True)[:3]
        assert_same(got, brute_force(single, sigma, mu))


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_COMPILE"])
def test_op_value_and_gradient(mode):
    """Through the PyTensor Op (numba dispatch and numpy perform): the value equals the
    per-pattern one, and every entry of the gradient with respect to a matrix square root of
    Sigma and to mu equals central differences."""
    x, sigma, mu0 = survey(80, 5, 0.2, seed=11)
    rows = row_data(x)
    root = pt.dmatrix("root")
    mu = pt.dvector("mu")
    value = missing_loglik(root @ root.T, mu, rows)
    f = pytensor.function([root, mu], value, mode=mode)
    g = pytensor.function([root, mu], pytensor.grad(value, [root, mu]), mode=mode)
    r0 = np.linalg.cholesky(sigma)
    g_root, g_mu = g(r0, mu0)
    h = 1e-6
    for i in range(5):
        for j in range(5):
            e = np.zeros((5, 5))
            e[i, j] = h
            fd = (f(r0 + e, mu0) - f(r0 - e, mu0)) / (2 * h)
            assert g_root[i, j] == pytest.approx(fd, rel=1e-6, abs=1e-6)
        e = np.zeros(5)
        e[i] = h
        fd = (f(r0, mu0 + e) - f(r0, mu0 - e)) / (2 * h)
        assert g_mu[i] == pytest.approx(fd, rel=1e-6, abs=1e-6)
    assert float(f(r0, mu0)) == pytest.approx(per_pattern(x, sigma, mu0)[0], rel=1e-12)


def test_non_positive_definite_sigma_gives_minus_infinity():
    x, sigma, mu = survey(50, 4, 0.1, seed=2)
    bad = sigma.copy()
    bad[0, 1] = bad[1, 0] = 10.0
    value, _, _, ok = rows_loglik(bad, mu, *row_data(x).arrays, True)
    assert value == -np.inf and not ok


@numba.njit(cache=True)
def _plain_numba_caller(sigma, mu, stats, sums, count, rows, order, n_missing, starts, direct):
    value, g_sigma, g_mu, ok = rows_loglik(
        sigma, mu, stats, sums, count, rows, order, n_missing, starts, direct, True
    )
    return value, g_sigma.sum() + g_mu.sum()


def test_callable_from_plain_numba():
    """The kernel is an ordinary njit function (no closures): other numba kernels can call it."""
    x, sigma, mu = survey(100, 6, 0.1, seed=5)
    rows = row_data(x)
    value, total = _plain_numba_caller(sigma, mu, *rows.arrays)
    expected = rows_loglik(sigma, mu, *rows.arrays, True)
    assert value == expected[0]
    assert total == pytest.approx(expected[1].sum() + expected[2].sum(), rel=1e-12)


def test_rows_without_answers_are_refused():
    with pytest.raises(ValueError, match="no observed item"):
        row_data(np.array([[1.0, np.nan], [np.nan, np.nan]]))


def test_jax_dispatch_of_the_op():
    """The Op compiled in PyTensor's JAX mode (numpyro's path) gives the kernel's value and
    gradients on every route."""
    pytest.importorskip("jax")
    import bayeslead.bayes.kernels.jax_ops  # noqa: F401  (registers the JAX implementations)

    x, sigma, mu0 = survey(100, 6, 0.2, seed=4)
    for direct_above in ROUTES:
        rows = row_data(x, direct_above)
        s = pt.dmatrix("s")
        mu = pt.dvector("mu")
        value = missing_loglik(s, mu, rows)
        f = pytensor.function([s, mu], [value, *pytensor.grad(value, [s, mu])], mode="JAX")
        got = f(sigma, mu0)
        assert_same((float(got[0]), got[1], got[2]), brute_force(x, sigma, mu0))


def test_em_from_the_kernel_reaches_the_saturated_ml():
    """EM steps from the kernel's gradient (Fisher's identity) reach the saturated ML of the
    per-pattern EM (`bayeslead.core.mvnorm.em_saturated`): zero gradient, same -2 logL."""
    x, _, _ = survey(300, 8, 0.2, seed=12)
    rows = row_data(x)
    mu, sigma, value = em_moments(
        rows, np.nanmean(x, axis=0), np.diag(np.nanvar(x, axis=0)), tol=1e-12
    )
    _, g_sigma, g_mu, _ = rows_loglik(sigma, mu, *rows.arrays, True)
    assert np.max(np.abs(g_sigma)) < 1e-6 and np.max(np.abs(g_mu)) < 1e-6
    _, _, m2ll = em_saturated(x, pattern_groups(x), tol=1e-14)
    n_obs = np.isfinite(x).sum()
    assert -2.0 * value + n_obs * np.log(2 * np.pi) == pytest.approx(m2ll, rel=1e-10)


def test_a_layout_filled_with_new_values_is_the_row_data_of_those_values():
    """Posterior predictive replicates reuse the blank cells' layout: filling it with a data set
    gives exactly what `row_data` prepares from scratch (every array, bit for bit)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((60, 7))
    x[rng.random(x.shape) < 0.2] = np.nan
    x = x[~np.isnan(x).all(axis=1)]
    layout = row_layout(~np.isnan(x), direct_above=0.4)
    other = np.where(np.isnan(x), np.nan, rng.standard_normal(x.shape))
    for values in (x, other):
        for got, expected in zip(
            layout.fill(values).arrays, row_data(values, direct_above=0.4).arrays, strict=True
        ):
            np.testing.assert_array_equal(got, expected)
