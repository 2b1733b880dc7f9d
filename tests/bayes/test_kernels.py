"""Likelihood kernels: the pattern and ordered-response Ops against the FIML likelihood, finite differences and their JAX twins."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats

from bayeslead.bayes.kernels import ops
from bayeslead.bayes.kernels.moments import complete_moments, pattern_moments
from bayeslead.bayes.kernels.ops import (
    interval_log_prob,
    interval_terms,
    pattern_loglik,
    pattern_terms,
)
from bayeslead.core.mvnorm import minus2_loglik
from bayeslead.data.patterns import pattern_groups


def _random_spd(p: int, rng) -> np.ndarray:
    a = rng.standard_normal((p, p))
    return a @ a.T / p + np.eye(p)


def test_pattern_loglik_matches_the_fiml_likelihood():
    """The Op's log-likelihood over missing-data patterns equals -1/2 of the FIML -2logL
    (bayeslead.core.mvnorm, itself checked against semopy) up to the 2 pi constant."""
    rng = np.random.default_rng(4)
    x = rng.multivariate_normal(np.zeros(5), _random_spd(5, rng), size=300)
    x[rng.random(x.shape) < 0.15] = np.nan
    groups = pattern_groups(x)
    moments = pattern_moments(groups, 5)
    sigma, mu = _random_spd(5, rng), rng.normal(size=5)
    value, g_sigma, g_mu, _, _, ok = pattern_terms(
        sigma,
        mu,
        moments.observed,
        moments.weight,
        moments.count,
        moments.scatter,
        moments.mean,
        True,
    )
    m2ll, grad_sigma, grad_mu = minus2_loglik(sigma, mu, groups)
    n_obs = np.sum(moments.observed * moments.count[:, None])
    assert ok
    np.testing.assert_allclose(value, -0.5 * (m2ll - n_obs * np.log(2 * np.pi)), rtol=1e-12)
    np.testing.assert_allclose(g_sigma, -0.5 * grad_sigma, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(g_mu, -0.5 * grad_mu, rtol=1e-9, atol=1e-9)


def test_complete_data_likelihood_integrates_the_means_out():
    """Closed form: with a flat prior on mu, the marginal is -(N-1)/2 log|Sigma| - tr(Sigma^-1 W)/2."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 4))
    centred = x - x.mean(axis=0)
    scatter = centred.T @ centred
    sigma = _random_spd(4, rng)
    op = pattern_loglik(pt.as_tensor(sigma), pt.zeros(4), complete_moments(scatter, 50)).eval()
    expected = -0.5 * (49 * np.linalg.slogdet(sigma)[1] + np.trace(np.linalg.solve(sigma, scatter)))
    np.testing.assert_allclose(op, expected, rtol=1e-12)


def test_pattern_loglik_gradient_by_finite_differences():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(40, 3))
    x[rng.random(x.shape) < 0.2] = np.nan
    moments = pattern_moments(pattern_groups(x), 3)
    s = pt.dmatrix("s")
    mu = pt.dvector("mu")
    value = pattern_loglik(s @ s.T + pt.eye(3), mu, moments)
    grads = pytensor.function([s, mu], pytensor.grad(value, [s, mu]))
    f = pytensor.function([s, mu], value)
    s0, mu0 = rng.normal(size=(3, 3)), rng.normal(size=3)
    g_s, g_mu = grads(s0, mu0)
    h = 1e-6
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        e = np.zeros((3, 3))
        e[i, j] = h
        np.testing.assert_allclose(
            g_s[i, j], (f(s0 + e, mu0) - f(s0 - e, mu0)) / (2 * h), rtol=1e-5
        )
    e = np.zeros(3)
    e[1] = h
    np.testing.assert_allclose(g_mu[1], (f(s0, mu0 + e) - f(s0, mu0 - e)) / (2 * h), rtol=1e-5)


def test_non_positive_definite_sigma_gives_minus_infinity():
    moments = complete_moments(np.eye(2) * 10, 10)
    value, *_, ok = pattern_terms(
        np.array([[1.0, 2.0], [2.0, 1.0]]),
        np.zeros(2),
        moments.observed,
        moments.weight,
        moments.count,
        moments.scatter,
        moments.mean,
        False,
    )
    assert value == -np.inf and not ok


def test_value_and_gradient_from_one_kernel_call():
    """A sampler's log-density and gradient (PyTensor's numba backend, as nutpie compiles them)
    run the pattern kernel once: one PatternLoglik node, whose value and gradient equal the
    kernel's value-only and gradient calls."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(60, 4))
    x[rng.random(x.shape) < 0.15] = np.nan
    moments = pattern_moments(pattern_groups(x), 4)
    sigma, mu = pt.dmatrix("sigma"), pt.dvector("mu")
    value = pattern_loglik(sigma, mu, moments)
    f = pytensor.function([sigma, mu], [value, *pytensor.grad(value, [sigma, mu])], mode="NUMBA")
    kernels = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, ops.PatternLoglik)]
    assert len(kernels) == 1
    s0, mu0 = _random_spd(4, rng), rng.normal(size=4)
    got = f(s0, mu0)
    args = (moments.observed, moments.weight, moments.count, moments.scatter, moments.mean)
    expected = pattern_terms(s0, mu0, *args, True)
    np.testing.assert_allclose(got[0], pattern_terms(s0, mu0, *args, False)[0], rtol=1e-14)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-14)
    np.testing.assert_allclose(got[2], expected[2], rtol=1e-14)


def test_pattern_kernels_state_their_fastmath_flags():
    """numba inherits unset fastmath flags from the first caller that compiles a signature and
    its caches are not keyed by flags, so the multi-group draws depended on compile history
    (issue 13): the pattern likelihood's kernels and their PyTensor wrappers state their flags."""
    pinned = {}
    for node in ast.walk(ast.parse(inspect.getsource(ops))):
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and ast.unparse(deco.func) == "numba.njit":
                pinned[node.name] = "fastmath" in {k.arg for k in deco.keywords}
    kernels = ["_cholesky_inverse", "pattern_terms", "pattern_loglik"]
    assert {name: pinned.get(name) for name in kernels} == dict.fromkeys(kernels, True)
    assert ops.pattern_terms.targetoptions["fastmath"] == ops.FASTMATH


@pytest.mark.parametrize("link", ["probit", "logit"])
def test_ordinal_interval_probabilities(link):
    """log P(a < e < b) against scipy's normal / logistic CDFs (far tails included), with
    a = lower * s - w u, b = upper * s - w u, w = loading x construct SD, s = sqrt(1 + w^2);
    derivatives by finite differences."""
    rng = np.random.default_rng(7)
    lower = np.array([[-1e3, -0.5, 0.3, 6.0], [-2.0, -1e3, -0.1, 0.2]])
    upper = np.array([[-1.0, 0.7, 1e3, 7.0], [-1.5, -1.0, 0.4, 1e3]])
    loadings = np.array([0.4, 0.5, 1.2, 0.8])
    phi = np.array([[1.5, 0.3], [0.3, 2.0]])
    column = np.array([0, 0, 1, 1])
    scores = rng.normal(size=(2, 2))
    total, d_lower, d_upper, d_load, d_phi, d_scores = interval_terms(
        lower, upper, loadings, phi, scores, column, link == "logit"
    )
    w = loadings * np.sqrt(np.diag(phi)[column])
    scale = np.sqrt(1 + w**2)
    a, b = lower * scale - w * scores[:, column], upper * scale - w * scores[:, column]
    dist = stats.norm if link == "probit" else stats.logistic
    expected = np.log(np.where(a > 0, dist.sf(a) - dist.sf(b), dist.cdf(b) - dist.cdf(a)))
    np.testing.assert_allclose(total, expected.sum(), rtol=1e-10)
    args = [pt.dmatrix(), pt.dmatrix(), pt.dvector(), pt.dmatrix(), pt.dmatrix()]
    f = pytensor.function(args, interval_log_prob(*args, column, link))
    values = [lower, upper, loadings, phi, scores]
    analytic = [d_lower, d_upper, d_load, d_phi, d_scores]
    h = 1e-6
    for k, index in [(2, (2,)), (3, (1, 1)), (4, (0, 1)), (0, (1, 2))]:
        up = [v.copy() for v in values]
        down = [v.copy() for v in values]
        up[k][index] += h
        down[k][index] -= h
        np.testing.assert_allclose(
            analytic[k][index], (f(*up) - f(*down)) / (2 * h), rtol=1e-5, atol=1e-8
        )


def test_jax_likelihoods_match_the_numba_kernels():
    """numpyro runs on the JAX versions of the two likelihood Ops: same values."""
    pytest.importorskip("jax")
    from bayeslead.bayes.kernels import jax_ops

    rng = np.random.default_rng(10)
    x = rng.normal(size=(60, 4))
    x[rng.random(x.shape) < 0.1] = np.nan
    m = pattern_moments(pattern_groups(x), 4)
    sigma, mu = _random_spd(4, rng), rng.normal(size=4)
    expected = pattern_terms(sigma, mu, m.observed, m.weight, m.count, m.scatter, m.mean, False)[0]
    got = jax_ops.jax_pattern_loglik(sigma, mu, m.observed, m.weight, m.count, m.scatter, m.mean)
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)
    lower = np.array([[-1e3, -0.5, 0.3], [-2.0, 0.1, 0.2]])
    upper = np.array([[-1.0, 0.7, 1e3], [-1.5, 0.5, 1e3]])
    loadings, phi, column = (
        np.array([0.4, 0.5, 1.2]),
        np.array([[1.5, 0.3], [0.3, 2.0]]),
        np.array([0, 0, 1]),
    )
    scores = rng.normal(size=(2, 2))
    for logit in (False, True):
        expected = interval_terms(lower, upper, loadings, phi, scores, column, logit)[0]
        got = jax_ops.jax_interval_total(lower, upper, loadings, phi, scores, column, logit)
        np.testing.assert_allclose(float(got), expected, rtol=1e-10)
