"""Reliability and validity coefficients against closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import random_correlation

from bayeslead.psychometrics.reliability import (
    alpha_from_cov,
    alpha_if_deleted,
    ave_from_standardized,
    average_variance_extracted,
    composite_reliability,
    cr_from_standardized,
    cronbach_alpha,
    item_total_correlations,
    omega,
    pairwise_covariance,
    standardized_alpha,
)
from bayeslead.psychometrics.validity import (
    fornell_larcker,
    harman_single_factor_share,
    htmt,
    variance_inflation,
)
from tests.conftest import REFERENCE


def exact_sample(cov: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Data whose sample covariance (divisor n - 1) equals `cov` exactly."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, cov.shape[0]))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T))).T
    return 3.0 + z @ np.linalg.cholesky(cov).T


def compound_symmetry(k: int, r: float, variance: float = 1.0) -> np.ndarray:
    return variance * ((1 - r) * np.eye(k) + r * np.ones((k, k)))


@pytest.mark.parametrize(("k", "r"), [(3, 0.3), (4, 0.5), (6, 0.2)])
def test_alpha_of_parallel_items_is_spearman_brown(k, r):
    """Parallel items with correlation r: alpha = k r / (1 + (k - 1) r), raw and standardized."""
    expected = k * r / (1 + (k - 1) * r)
    cov = compound_symmetry(k, r, variance=2.5)
    np.testing.assert_allclose(alpha_from_cov(cov), expected, rtol=1e-12)
    x = exact_sample(cov, 50)
    np.testing.assert_allclose(cronbach_alpha(x), expected, rtol=1e-10)
    np.testing.assert_allclose(standardized_alpha(x), expected, rtol=1e-10)


def test_standardized_alpha_ignores_item_scale_raw_alpha_does_not():
    """Rescaling one item leaves standardized alpha at k r/(1+(k-1)r) but changes raw alpha."""
    k, r = 4, 0.4
    scale = np.diag([1.0, 1.0, 1.0, 3.0])
    cov = scale @ compound_symmetry(k, r) @ scale
    x = exact_sample(cov, 40, seed=3)
    np.testing.assert_allclose(standardized_alpha(x), k * r / (1 + (k - 1) * r), rtol=1e-10)
    # raw: 4/3 * (1 - tr/sum) with tr = 3 + 9 = 12, sum = 12 + r*(6*1 + 2*3*3) = 12 + 9.6
    np.testing.assert_allclose(cronbach_alpha(x), 4 / 3 * (1 - 12 / 21.6), rtol=1e-10)


def test_alpha_is_vectorised_over_leading_axes():
    """A stack of compound-symmetry matrices gives each its own Spearman-Brown value."""
    rs = np.array([0.1, 0.3, 0.6])
    covs = np.stack([compound_symmetry(5, r) for r in rs])
    np.testing.assert_allclose(alpha_from_cov(covs), 5 * rs / (1 + 4 * rs), rtol=1e-12)
    data = np.stack([exact_sample(c, 30, seed=i) for i, c in enumerate(covs)])
    np.testing.assert_allclose(cronbach_alpha(data), 5 * rs / (1 + 4 * rs), rtol=1e-10)


def test_missing_values_are_handled_pairwise_as_psych():
    """cov(x, use = "pairwise") (pandas' DataFrame.cov is pairwise as well)."""
    rng = np.random.default_rng(7)
    x = exact_sample(compound_symmetry(4, 0.45), 60, seed=7)
    x[rng.random(x.shape) < 0.1] = np.nan
    pairwise = pd.DataFrame(x).cov().to_numpy()
    np.testing.assert_allclose(pairwise_covariance(x), pairwise, rtol=1e-12)
    np.testing.assert_allclose(cronbach_alpha(x), alpha_from_cov(pairwise), rtol=1e-12)
    sd = np.sqrt(np.diag(pairwise))
    np.testing.assert_allclose(
        standardized_alpha(x), alpha_from_cov(pairwise / np.outer(sd, sd)), rtol=1e-12
    )


def test_item_total_correlations_against_numpy():
    """Corrected item-total r = corr(x_i, sum of the other items), on the Holzinger visual items."""
    data = pd.read_csv(REFERENCE / "holzinger1939" / "data.csv")
    x = data[["x1", "x2", "x3", "x4"]].to_numpy(dtype=float)
    direct = [
        np.corrcoef(x[:, i], np.delete(x, i, axis=1).sum(axis=1))[0, 1] for i in range(x.shape[1])
    ]
    np.testing.assert_allclose(item_total_correlations(x), direct, rtol=1e-12)
    drop = [cronbach_alpha(np.delete(x, i, axis=1)) for i in range(x.shape[1])]
    np.testing.assert_allclose(alpha_if_deleted(x), drop, rtol=1e-12)


def test_omega_and_cr_of_a_tau_equivalent_model_equal_alpha():
    """lambda = 1, phi, theta: omega = CR = k^2 phi / (k^2 phi + k theta) = alpha of Sigma."""
    k, phi, theta = 4, 0.6, 0.9
    lam = np.ones(k)
    sigma = phi * np.outer(lam, lam) + theta * np.eye(k)
    expected = k**2 * phi / (k**2 * phi + k * theta)
    np.testing.assert_allclose(composite_reliability(lam, phi, np.full(k, theta)), expected)
    np.testing.assert_allclose(composite_reliability(lam, phi, theta * np.eye(k)), expected)
    np.testing.assert_allclose(omega(lam, phi, sigma.sum()), expected)
    np.testing.assert_allclose(alpha_from_cov(sigma), expected)


def test_composite_reliability_counts_residual_covariances():
    """A residual covariance psi_12 adds 2 psi_12 to the implied variance of the sum score."""
    lam, phi = np.array([1.0, 0.8, 0.7]), 1.5
    resid = np.diag([0.5, 0.6, 0.7])
    resid[0, 1] = resid[1, 0] = 0.2
    common = 2.5**2 * 1.5
    expected = common / (common + 1.8 + 0.4)
    np.testing.assert_allclose(composite_reliability(lam, phi, resid), expected, rtol=1e-12)
    sigma = phi * np.outer(lam, lam) + resid
    np.testing.assert_allclose(omega(lam, phi, sigma.sum()), expected, rtol=1e-12)


def test_ave_closed_form():
    """AVE = phi * sum(lambda^2) / sum(item variances)."""
    lam, phi, var = np.array([1.0, 0.8, 0.6]), 2.0, np.array([3.0, 2.5, 2.5])
    np.testing.assert_allclose(average_variance_extracted(lam, phi, var), 2.0 * 2.0 / 8.0)


@pytest.mark.parametrize(("k", "std"), [(3, 0.7), (5, 0.55)])
def test_standardized_cr_and_ave_of_equal_loadings(k, std):
    """Equal std loadings l: CR = k l^2 / (k l^2 + 1 - l^2), AVE = l^2."""
    loadings = np.full(k, std)
    np.testing.assert_allclose(
        cr_from_standardized(loadings), k * std**2 / (k * std**2 + 1 - std**2), rtol=1e-12
    )
    np.testing.assert_allclose(ave_from_standardized(loadings), std**2, rtol=1e-12)


def test_loading_functions_vectorise_over_draws():
    """Posterior-draw arrays (draws, k) give the same numbers as one draw at a time."""
    rng = np.random.default_rng(11)
    lam = rng.uniform(0.5, 1.2, size=(6, 4))
    phi = rng.uniform(0.5, 1.5, size=6)
    resid = rng.uniform(0.3, 0.8, size=(6, 4))
    std = rng.uniform(0.4, 0.9, size=(6, 4))
    cr = composite_reliability(lam, phi, resid)
    ave = average_variance_extracted(lam, phi, resid + lam**2 * phi[:, None])
    for d in range(6):
        total = lam[d].sum() ** 2 * phi[d]
        assert cr[d] == pytest.approx(total / (total + resid[d].sum()), rel=1e-12)
        explained = (lam[d] ** 2).sum() * phi[d]
        assert ave[d] == pytest.approx(explained / (explained + resid[d].sum()), rel=1e-12)
        assert cr_from_standardized(std)[d] == pytest.approx(cr_from_standardized(std[d]))
        assert ave_from_standardized(std)[d] == pytest.approx(np.mean(std[d] ** 2))


def test_htmt_of_a_block_constant_matrix_is_the_ratio():
    """Within-block r_w and between-block r_b everywhere: HTMT = HTMT2 = r_b / r_w."""
    corr = np.full((5, 5), 0.2)
    corr[:2, :2] = corr[2:, 2:] = 0.5
    np.fill_diagonal(corr, 1.0)
    for geometric in (True, False):
        value = htmt(corr, [[0, 1], [2, 3, 4]], htmt2=geometric)
        np.testing.assert_allclose(value, [[1.0, 0.4], [0.4, 1.0]], rtol=1e-12)
    negative = corr.copy()
    negative[:2, 2:] *= -1
    negative[2:, :2] *= -1
    np.testing.assert_allclose(htmt(negative, [[0, 1], [2, 3, 4]])[0, 1], 0.4, rtol=1e-12)


def test_fornell_larcker_closed_form():
    """sqrt(AVE) .7, .8, .6 on the diagonal; construct 3 fails against its .62 correlation."""
    ave = np.array([0.49, 0.64, 0.36])
    corr = np.array([[1.0, 0.65, 0.3], [0.65, 1.0, -0.62], [0.3, -0.62, 1.0]])
    matrix, ok = fornell_larcker(ave, corr)
    expected = corr.copy()
    np.fill_diagonal(expected, [0.7, 0.8, 0.6])
    np.testing.assert_allclose(matrix, expected, rtol=1e-12)
    assert ok.tolist() == [True, True, False]


@pytest.mark.parametrize("r", [0.0, 0.5, -0.8])
def test_vif_of_two_predictors(r):
    """Two predictors with correlation r: VIF = 1 / (1 - r^2) for both, whatever their scale."""
    cov = np.array([[4.0, 2.0 * r * 1.5, 0.3], [2.0 * r * 1.5, 2.25, 0.1], [0.3, 0.1, 1.0]])
    vif = variance_inflation(cov, {"y": [0, 1]})
    np.testing.assert_allclose(vif["y"], [1 / (1 - r**2)] * 2, rtol=1e-12)


def test_vif_of_three_predictors_matches_regression_r2():
    """VIF_j = 1 / (1 - R^2_j), R^2_j of an OLS regression of x_j on the other predictors."""
    cov = np.array([[1.0, 0.5, 0.3], [0.5, 2.0, -0.4], [0.3, -0.4, 1.5]])
    x = exact_sample(cov, 200, seed=5)
    expected = []
    for j in range(3):
        others = np.column_stack([np.ones(len(x)), np.delete(x, j, axis=1)])
        beta, *_ = np.linalg.lstsq(others, x[:, j], rcond=None)
        resid = x[:, j] - others @ beta
        r2 = 1 - resid.var() / x[:, j].var()
        expected.append(1 / (1 - r2))
    np.testing.assert_allclose(variance_inflation(cov, {"y": [0, 1, 2]})["y"], expected)


def test_harman_share_of_a_matrix_with_known_eigenvalues():
    """First eigenvalue 3.2 of an 8-item correlation matrix: share 3.2 / 8 = 0.40."""
    eigs = np.array([3.2, 1.5, 1.0, 0.8, 0.6, 0.4, 0.3, 0.2])
    corr = random_correlation.rvs(eigs, random_state=np.random.default_rng(2))
    x = exact_sample(corr * 1.7, 100, seed=2)  # covariance scale does not matter
    np.testing.assert_allclose(harman_single_factor_share(x), 0.40, rtol=1e-10)
    one_factor = exact_sample(compound_symmetry(6, 0.6), 80, seed=4)
    np.testing.assert_allclose(harman_single_factor_share(one_factor), (1 + 5 * 0.6) / 6)
