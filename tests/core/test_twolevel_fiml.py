"""The two-level saturated (h1) model of data with blank answers by FIML, against lavaan 0.6-14's
h1 with ``missing = "ml"`` (tests/reference/twolevel_blanks_covariates: Demo.twolevel with
xw = x1 + w1 at both levels, x2, x3 within-only, w2 between-only, 5% of y1-y3 blank).

lavaan fits its h1 by quasi-Newton with rel.tol 1e-7 and stops 0.0013 log-likelihood units short
of the maximum (our log-likelihood at lavaan's h1 is -22707.7916, at ours -22707.7903): the
covariances differ by up to 0.0027 (between y1), the means by up to 3.3e-4."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeslead.core.twolevel_fiml import fit_saturated, observed_clusters, saturated_loglik
from tests.conftest import REFERENCE

FOLDER = REFERENCE / "twolevel_blanks_covariates"
LEVEL1 = ["y1", "y2", "y3", "xw", "x2", "x3"]
LEVEL2 = ["y1", "y2", "y3", "xw", "w2"]
TILDE = ["w2", *LEVEL1]


def _lavaan():
    def read(name):
        return pd.read_csv(FOLDER / name).set_index("var")

    within = read("h1_within_cov.csv").loc[LEVEL1, LEVEL1].to_numpy()
    between = np.zeros((7, 7))
    at = [TILDE.index(v) for v in LEVEL2]
    between[np.ix_(at, at)] = read("h1_between_cov.csv").loc[LEVEL2, LEVEL2].to_numpy()
    mean_w = read("h1_within_mean.csv")["mean"]
    mean_b = read("h1_between_mean.csv")["mean"]
    mu = np.array([mean_b.get(v, 0.0) + mean_w.get(v, 0.0) for v in TILDE])
    return within, between, mu, mean_w.loc[LEVEL1].to_numpy()


@pytest.fixture(scope="module")
def fitted():
    data = pd.read_csv(FOLDER / "data_mcar05.csv")
    y, z = data[LEVEL1].to_numpy(float), data[["w2"]].to_numpy(float)
    clusters = data.cluster.to_numpy()
    fit = fit_saturated(y, z, clusters, np.array([v in ("x2", "x3") for v in LEVEL1]))
    return fit, observed_clusters(y, z, clusters)


def test_the_fiml_h1_is_lavaans_at_a_higher_likelihood(fitted):
    fit, clusters = fitted
    within, between, mu, mean_w = _lavaan()
    at_lavaan = saturated_loglik(clusters, within, between, mu)[0]
    assert fit.loglik >= at_lavaan
    assert fit.loglik - at_lavaan < 0.002  # lavaan's rel.tol 1e-7 of 22,708
    np.testing.assert_allclose(fit.sigma_w, within, atol=0.003)
    np.testing.assert_allclose(fit.sigma_b, between, atol=0.003)
    np.testing.assert_allclose(fit.mu, mu, atol=5e-4)
    # lavaan's within means: the observed means of variables with a between part
    np.testing.assert_allclose(fit.mu_w, mean_w, atol=1e-4)
    # within-only variables have no between part
    assert not fit.sigma_b[[TILDE.index("x2"), TILDE.index("x3")]].any()


def test_the_gradient_is_exact(fitted):
    """saturated_loglik's gradients (each entry of a symmetric matrix as its own argument: a
    symmetric step moves both) against central differences, at lavaan's h1 on 20 clusters."""
    _, clusters = fitted
    clusters = clusters[:20]
    args = list(_lavaan()[:3])
    value, *grads = saturated_loglik(clusters, *args)
    rng = np.random.default_rng(1)
    for which in range(3):
        for _ in range(4):
            index = tuple(rng.integers(0, n) for n in args[which].shape)
            if which == 1 and not args[1][index[0], index[0]]:
                continue  # zero between parts of within-only variables
            step = np.zeros_like(args[which])
            step[index] = 1e-5
            expected = grads[which][index]
            if which < 2:  # a symmetric step: both entries move
                step[index[::-1]] = 1e-5
                expected = expected + (grads[which][index[::-1]] if index[0] != index[1] else 0)
            up, down = list(args), list(args)
            up[which], down[which] = args[which] + step, args[which] - step
            numeric = (
                saturated_loglik(clusters, *up)[0] - saturated_loglik(clusters, *down)[0]
            ) / 2e-5
            assert expected == pytest.approx(numeric, rel=1e-5, abs=1e-6)
