"""Discriminant validity and common-method screens on arrays: HTMT (``semTools::htmt``),
Fornell-Larcker, variance inflation of structural predictors, Harman's single-factor share."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from bayeslead.psychometrics.reliability import cov_to_corr, pairwise_covariance


# --- discriminant validity --------------------------------------------------------------------
def _geometric_mean(values: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(np.mean(np.log(values), axis=axis))


def htmt(
    corr: np.ndarray,
    blocks: Sequence[Sequence[int]],
    *,
    absolute: bool = True,
    htmt2: bool = True,
) -> np.ndarray:
    """Heterotrait-monotrait ratio of correlations, as ``semTools::htmt`` (0.5-6 defaults).

    ``HTMT_ij = mean(|r| between blocks i and j) / sqrt(mean_i * mean_j)``, where ``mean_i`` is the
    mean of the off-diagonal correlations within block i (Henseler, Ringle & Sarstedt 2015).
    semTools 0.5-6 defaults to ``absolute = TRUE`` and ``htmt2 = TRUE``: HTMT2 (Roemer, Schuberth &
    Henseler 2021) uses *geometric* instead of arithmetic means; the R references here are HTMT2.
    Set ``htmt2=False`` for the original (arithmetic) HTMT. Geometric means need positive
    correlations, so ``htmt2`` without ``absolute`` gives NaN where a correlation is negative.

    Parameters
    ----------
    corr : array (..., p, p)
        Item correlation matrix.
    blocks : sequence of m index sequences
        Column indices of each construct's items (each block needs at least 2 items).

    Returns
    -------
    array (..., m, m)
        Symmetric, with 1 on the diagonal.
    """
    r = np.asarray(corr, dtype=float)
    if absolute:
        r = np.abs(r)
    mean = _geometric_mean if htmt2 else (lambda v, axis: np.mean(v, axis=axis))
    within = []
    for block in blocks:
        idx = np.asarray(block, dtype=int)
        k = len(idx)
        iu, ju = np.triu_indices(k, 1)
        within.append(mean(r[..., idx[iu], idx[ju]], axis=-1))
    m = len(blocks)
    out = np.zeros((*r.shape[:-2], m, m))
    for i in range(m):
        out[..., i, i] = 1.0
        for j in range(i + 1, m):
            a, b = np.asarray(blocks[i], dtype=int), np.asarray(blocks[j], dtype=int)
            between = r[..., a[:, None], b[None, :]]
            between = between.reshape(*between.shape[:-2], -1)
            value = mean(between, axis=-1) / np.sqrt(within[i] * within[j])
            out[..., i, j] = out[..., j, i] = value
    return out


def fornell_larcker(
    ave: np.ndarray, latent_correlations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fornell-Larcker criterion matrix and per-construct verdict.

    Parameters
    ----------
    ave : array (..., m)
        Average variance extracted of each construct.
    latent_correlations : array (..., m, m)
        Correlations among the constructs.

    Returns
    -------
    matrix : array (..., m, m)
        ``sqrt(AVE)`` on the diagonal, the latent correlations off the diagonal.
    ok : bool array (..., m)
        Whether ``sqrt(AVE)`` exceeds the construct's largest absolute correlation with any other
        construct (True when there is no other construct).
    """
    ave = np.asarray(ave, dtype=float)
    corr = np.asarray(latent_correlations, dtype=float)
    m = ave.shape[-1]
    root = np.sqrt(ave)
    off = ~np.eye(m, dtype=bool)
    matrix = np.where(off, corr, 0.0) + np.eye(m) * root[..., None, :]
    largest = np.max(np.where(off, np.abs(corr), -np.inf), axis=-1)
    return matrix, root > largest


def variance_inflation(
    cov: np.ndarray, predictors_of: Mapping[Hashable, Sequence[int]]
) -> dict[Hashable, np.ndarray]:
    """Variance inflation factors of the predictors of each outcome.

    ``VIF_j = 1 / (1 - R^2_j)`` with ``R^2_j`` from regressing predictor j on the other predictors
    of the same outcome; computed as ``[C^-1]_jj * C_jj`` from the predictors' covariance block C.

    Parameters
    ----------
    cov : array (..., v, v)
        Covariance matrix of the (latent or observed) variables.
    predictors_of : mapping outcome -> indices
        Indices into `cov` of each outcome's predictors.

    Returns
    -------
    dict outcome -> array (..., n_predictors)
    """
    cov = np.asarray(cov, dtype=float)
    out: dict[Hashable, np.ndarray] = {}
    for outcome, predictors in predictors_of.items():
        idx = np.asarray(predictors, dtype=int)
        block = cov[..., idx[:, None], idx[None, :]]
        precision = np.linalg.inv(block)
        out[outcome] = np.diagonal(precision, 0, -2, -1) * np.diagonal(block, 0, -2, -1)
    return out


def harman_single_factor_share(x: np.ndarray) -> np.ndarray:
    """Harman's single-factor test as usually reported: variance share of the first component.

    The first (largest) eigenvalue of the item correlation matrix divided by the number of items,
    i.e. the share of total standardized variance carried by the first unrotated principal
    component of all items together. A share above 0.50 is the conventional flag
    for common-method variance; the test is weak (Podsakoff et al. 2003) and only a screen.

    Parameters
    ----------
    x : array (..., n, k)
        All survey items (NaN handled pairwise).

    Returns
    -------
    array (...)
    """
    corr = cov_to_corr(pairwise_covariance(x))
    return np.linalg.eigvalsh(corr)[..., -1] / corr.shape[-1]


def harman_principal_axis_share(x: np.ndarray, tol: float = 0.001, max_iter: int = 50) -> float:
    """Harman's single factor by principal-axis factoring: the share of standardized variance
    of one unrotated common factor (``psych::fa(nfactors = 1, fm = "pa")``'s proportion of
    variance: squared multiple correlations as starting communalities, iterated until the sum
    of communalities changes by at most `tol`, at most `max_iter` times).

    Parameters
    ----------
    x : array (n, k)
        All survey items (NaN handled pairwise).
    """
    corr = cov_to_corr(pairwise_covariance(x))
    reduced = corr.copy()
    np.fill_diagonal(reduced, 1 - 1 / np.diag(np.linalg.inv(corr)))
    communality, change, iterations = float(np.trace(reduced)), np.inf, 0
    while change > tol and iterations < max_iter:
        vals, vecs = np.linalg.eigh(reduced)
        loadings = vecs[:, -1] * np.sqrt(vals[-1])
        new = float(np.sum(loadings**2))
        np.fill_diagonal(reduced, loadings**2)
        change, communality, iterations = abs(communality - new), new, iterations + 1
    return communality / corr.shape[0]
