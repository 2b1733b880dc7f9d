"""Reliability on arrays: pairwise-complete covariances, Cronbach's alpha and item statistics
(as ``psych::alpha``), omega, composite reliability and AVE (as ``semTools``) from loadings.
Loading-based functions are vectorised over leading axes (bootstrap replicates, draws)."""

from __future__ import annotations

import numpy as np


# --- covariance helpers ---------------------------------------------------------------------
def pairwise_covariance(x: np.ndarray, ddof: int = 1) -> np.ndarray:
    """Pairwise-complete covariance matrix of the columns of `x`.

    Parameters
    ----------
    x : array of shape (..., n, k)
        Observations in rows, variables in columns; NaN marks a missing value.
    ddof : int
        Delta degrees of freedom of the divisor (``n_ij - ddof``), 1 as R's ``cov``.

    Returns
    -------
    array of shape (..., k, k)
        Entry (i, j) uses the rows where both i and j are observed (means over those rows), as
        R's ``cov(x, use = "pairwise")``; NaN where fewer than ``ddof + 1`` rows are shared.
    """
    x = np.asarray(x, dtype=float)
    observed = ~np.isnan(x)
    if observed.all():
        centred = x - x.mean(axis=-2, keepdims=True)
        return np.swapaxes(centred, -1, -2) @ centred / (x.shape[-2] - ddof)
    # shift by the column means first: covariances are shift-invariant and this keeps precision
    with np.errstate(invalid="ignore"):
        shift = np.nanmean(x, axis=-2, keepdims=True)
    mask = observed.astype(float)
    z = np.where(observed, x - shift, 0.0)
    zt = np.swapaxes(z, -1, -2)
    n = np.swapaxes(mask, -1, -2) @ mask
    sums = zt @ mask  # (i, j): sum of x_i over rows where i and j are both observed
    products = zt @ z
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = (products - sums * np.swapaxes(sums, -1, -2) / n) / (n - ddof)
    return np.where(n > ddof, cov, np.nan)


def cov_to_corr(cov: np.ndarray) -> np.ndarray:
    """Correlation matrix of a covariance matrix (R's ``cov2cor``), shape (..., k, k)."""
    cov = np.asarray(cov, dtype=float)
    sd = np.sqrt(np.diagonal(cov, 0, -2, -1))
    return cov / (sd[..., :, None] * sd[..., None, :])


# --- alpha and item statistics ----------------------------------------------------------------
def alpha_from_cov(cov: np.ndarray) -> np.ndarray:
    """Coefficient alpha of the unit-weighted sum of k items with covariance `cov`.

    ``alpha = k / (k - 1) * (1 - tr(C) / sum(C))``; on a correlation matrix this is the
    standardized alpha. `cov` has shape (..., k, k); returns shape (...), NaN when k < 2.
    """
    cov = np.asarray(cov, dtype=float)
    k = cov.shape[-1]
    if k < 2:
        return np.full(cov.shape[:-2], np.nan)
    total = cov.sum(axis=(-2, -1))
    return k / (k - 1) * (1.0 - np.trace(cov, axis1=-2, axis2=-1) / total)


def cronbach_alpha(x: np.ndarray) -> np.ndarray:
    """Raw (covariance-based) Cronbach's alpha, as ``psych::alpha()$total$raw_alpha``.

    Parameters
    ----------
    x : array of shape (..., n, k)
        Item scores of one construct; missing values (NaN) are handled pairwise, as psych.

    Returns
    -------
    array of shape (...)
    """
    return alpha_from_cov(pairwise_covariance(x))


def standardized_alpha(x: np.ndarray) -> np.ndarray:
    """Standardized alpha from the item correlations, as ``psych::alpha()$total$std.alpha``.

    The correlation matrix is ``cov2cor`` of the pairwise covariance (psych's convention).
    `x` has shape (..., n, k); returns shape (...).
    """
    return alpha_from_cov(cov_to_corr(pairwise_covariance(x)))


def _drop_one(k: int) -> np.ndarray:
    """Index array (k, k - 1): row i lists every item but i."""
    return np.array([[j for j in range(k) if j != i] for i in range(k)], dtype=int)


def alpha_if_deleted_from_cov(cov: np.ndarray) -> np.ndarray:
    """Raw alpha of the k - 1 remaining items when each item is dropped, shape (..., k)."""
    cov = np.asarray(cov, dtype=float)
    keep = _drop_one(cov.shape[-1])
    sub = cov[..., keep[:, :, None], keep[:, None, :]]  # (..., k, k-1, k-1)
    return alpha_from_cov(sub)


def alpha_if_deleted(x: np.ndarray) -> np.ndarray:
    """Raw alpha without each item (``psych::alpha()$alpha.drop$raw_alpha``), shape (..., k)."""
    return alpha_if_deleted_from_cov(pairwise_covariance(x))


def item_total_from_cov(cov: np.ndarray) -> np.ndarray:
    """Corrected item-total correlations from an item covariance matrix, shape (..., k).

    ``r_i = cov(x_i, T_-i) / sqrt(var(x_i) var(T_-i))`` with ``T_-i`` the sum of the other items.
    """
    cov = np.asarray(cov, dtype=float)
    var = np.diagonal(cov, 0, -2, -1)
    rest_cov = cov.sum(axis=-1) - var
    rest_var = cov.sum(axis=(-2, -1))[..., None] - 2.0 * cov.sum(axis=-1) + var
    return rest_cov / np.sqrt(var * rest_var)


def item_total_correlations(x: np.ndarray) -> np.ndarray:
    """Corrected item-total correlation of each item of one construct (psych's ``r.drop``).

    Parameters
    ----------
    x : array of shape (..., n, k)
        Item scores of one construct (NaN handled pairwise).

    Returns
    -------
    array of shape (..., k)
        Correlation of item i with the unit-weighted sum of the other k - 1 items.
    """
    return item_total_from_cov(pairwise_covariance(x))


# --- model-based reliability ------------------------------------------------------------------
def omega(
    loadings: np.ndarray, factor_variance: np.ndarray, sum_score_variance: np.ndarray
) -> np.ndarray:
    """Omega: ``(sum lambda)^2 * phi / var(sum score)``.

    With the *observed* variance of the unit-weighted sum (divisor N) this is
    ``semTools::compRelSEM(fit)`` (default ``obs.var = TRUE``).

    Parameters
    ----------
    loadings : array (..., k)
        Unstandardized loadings of the construct's items.
    factor_variance : array (...)
        Variance of the factor.
    sum_score_variance : array (...)
        Variance of the sum of the k items (``1' S 1`` of the item block).
    """
    loadings = np.asarray(loadings, dtype=float)
    common = loadings.sum(axis=-1) ** 2 * np.asarray(factor_variance, dtype=float)
    return common / np.asarray(sum_score_variance, dtype=float)


def composite_reliability(
    loadings: np.ndarray, factor_variance: np.ndarray, residual_cov: np.ndarray
) -> np.ndarray:
    """Composite reliability over the *model-implied* variance of the sum score.

    ``(sum lambda)^2 phi / ((sum lambda)^2 phi + sum(Theta))``, with ``sum(Theta)`` the sum of all
    residual (co)variances of the items, so residual covariances count: this is
    ``semTools::compRelSEM(fit, obs.var = FALSE)`` for a construct without cross-loadings.

    Parameters
    ----------
    loadings : array (..., k)
    factor_variance : array (...)
    residual_cov : array (..., k) or (..., k, k)
        Residual variances (same number of axes as `loadings`), or the full residual covariance
        matrix of the items (one more axis).
    """
    loadings = np.asarray(loadings, dtype=float)
    residual_cov = np.asarray(residual_cov, dtype=float)
    if residual_cov.ndim == loadings.ndim:
        residual_sum = residual_cov.sum(axis=-1)
    elif residual_cov.ndim == loadings.ndim + 1:
        residual_sum = residual_cov.sum(axis=(-2, -1))
    else:
        raise ValueError("residual_cov must have shape (..., k) or (..., k, k)")
    common = loadings.sum(axis=-1) ** 2 * np.asarray(factor_variance, dtype=float)
    return common / (common + residual_sum)


def average_variance_extracted(
    loadings: np.ndarray, factor_variance: np.ndarray, item_variances: np.ndarray
) -> np.ndarray:
    """AVE: ``sum(lambda^2 phi) / sum(item variances)``.

    With the observed item variances (divisor N) this is ``semTools::AVE(fit)`` (default
    ``obs.var = TRUE``). Shapes: loadings (..., k), factor_variance (...), item_variances (..., k).
    """
    loadings = np.asarray(loadings, dtype=float)
    explained = (loadings**2).sum(axis=-1) * np.asarray(factor_variance, dtype=float)
    return explained / np.asarray(item_variances, dtype=float).sum(axis=-1)


def cr_from_standardized(std_loadings: np.ndarray) -> np.ndarray:
    """Fornell-Larcker composite reliability from standardized loadings, shape (..., k) -> (...).

    ``(sum l)^2 / ((sum l)^2 + sum(1 - l^2))``: residual variances are ``1 - l^2`` (no residual
    covariances), the formula reported in most management papers.
    """
    std_loadings = np.asarray(std_loadings, dtype=float)
    common = std_loadings.sum(axis=-1) ** 2
    return common / (common + (1.0 - std_loadings**2).sum(axis=-1))


def ave_from_standardized(std_loadings: np.ndarray) -> np.ndarray:
    """Fornell-Larcker AVE: mean squared standardized loading, shape (..., k) -> (...)."""
    return np.mean(np.asarray(std_loadings, dtype=float) ** 2, axis=-1)
