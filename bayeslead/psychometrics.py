"""Measurement quality of survey constructs: reliability, convergent and discriminant validity.

The module has two layers, in the style of arviz-stats:

* **pure numpy functions** on arrays (item data, covariance/correlation matrices, loadings). They
  are vectorised over leading axes where that is natural, so the loading-based ones apply
  unchanged to bootstrap replicates or posterior draws (``loadings`` of shape ``(..., k)``);
* **table wrappers** that read a `ParameterTable`, a fitted parameter vector and the item data and
  return pandas DataFrames in the layout of the R references (lavaan / semTools / psych).

Conventions (matching R):

* Data-based coefficients (alpha, item-total correlations, Harman's test) use *pairwise-complete*
  covariances, as ``psych::alpha`` (``use = "pairwise"``); on complete data this is the ordinary
  sample covariance. HTMT on data uses *listwise* deletion, as ``semTools::htmt`` (``lavCor``).
* SEM-based coefficients (omega, CR, AVE) use the divisor-N sample covariance of the complete rows,
  as lavaan's ``sampstat`` that semTools reads.
* Thresholds (`CR_MIN`, `AVE_MIN`, `HTMT_MAX`, `HARMAN_MAX`) are conventions that are *flagged*
  in the tables, never enforced.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec

CR_MIN = 0.70
"""Composite reliability above which a construct is flagged reliable (Hair et al.)."""
AVE_MIN = 0.50
"""Average variance extracted above which convergent validity is flagged (Fornell & Larcker)."""
HTMT_MAX = 0.85
"""HTMT above which a pair of constructs is flagged (Henseler, Ringle & Sarstedt 2015)."""
HARMAN_MAX = 0.50
"""First-component variance share above which common-method variance is flagged (Harman)."""

RELIABILITY_COLUMNS = (
    "construct",
    "n_items",
    "alpha",
    "alpha_std",
    "omega",
    "cr",
    "ave",
    "cr_std_loadings",
    "ave_std_loadings",
    "sqrt_ave",
    "max_abs_corr",
    "cr_ok",
    "ave_ok",
    "fornell_larcker_ok",
)


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
    component of all items together. A share above `HARMAN_MAX` (0.50) is the conventional flag
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


# --- table wrappers ---------------------------------------------------------------------------
def _loadings(table: ParameterTable, row_values: np.ndarray, factor: str, items) -> np.ndarray:
    by_item = {
        p.rhs: row_values[..., k]
        for k, p in enumerate(table.params)
        if p.op == "=~" and p.lhs == factor
    }
    return np.stack([by_item[i] for i in items], axis=-1)


def _latent_correlations(table: ParameterTable, theta: np.ndarray, names) -> np.ndarray:
    implied = table.implied(theta)
    idx = np.array([table.variables.index(n) for n in names])
    return cov_to_corr(implied[..., idx[:, None], idx[None, :]])


def reliability_table(
    table: ParameterTable, theta: np.ndarray, data: pd.DataFrame, spec: ModelSpec
) -> pd.DataFrame:
    """Reliability and convergent/discriminant validity of each first-order construct.

    Parameters
    ----------
    table : ParameterTable
        Table of a *measurement* model (first-order factors, all correlated), e.g.
        ``build_partable(spec.measurement_model())``.
    theta : array (n_free,)
        Its fitted parameter vector (ML).
    data : DataFrame
        The raw item columns; rows with a missing item are dropped for the SEM-based columns
        (lavaan's listwise default), alpha uses pairwise covariances (psych).
    spec : ModelSpec
        Gives the constructs and their items.

    Returns
    -------
    DataFrame
        One row per first-order construct with `RELIABILITY_COLUMNS`: ``alpha``/``alpha_std``
        (psych), ``omega`` (compRelSEM), ``cr`` (compRelSEM ``obs.var = FALSE``), ``ave``
        (semTools AVE), the Fornell-Larcker ``cr_std_loadings``/``ave_std_loadings`` from std.all
        loadings, ``sqrt_ave`` (of ``ave``), ``max_abs_corr`` (largest absolute latent correlation
        with another construct, model-implied) and the flags ``cr > CR_MIN``, ``ave > AVE_MIN``
        and ``sqrt_ave > max_abs_corr``. The factor variance is the model-implied latent variance,
        which in a measurement model is the ``F ~~ F`` parameter.
    """
    theta = np.asarray(theta, dtype=float)
    factors = spec.first_order
    items = [i for f in factors for i in f.indicators]
    complete = data[items].dropna().to_numpy(dtype=float)
    sample = np.cov(complete.T, bias=True)  # lavaan's divisor-N sample covariance
    position = {name: k for k, name in enumerate(items)}
    values = table.values(theta)
    std = table.standardized(theta)
    implied = table.implied(theta)
    _, s_matrix = table.matrices(theta)
    names = [f.name for f in factors]
    latent_corr = _latent_correlations(table, theta, names)

    rows = []
    for f in factors:
        idx = np.array([position[i] for i in f.indicators])
        var_idx = np.array([table.variables.index(i) for i in f.indicators])
        lam = _loadings(table, values, f.name, f.indicators)
        std_lam = _loadings(table, std, f.name, f.indicators)
        f_idx = table.variables.index(f.name)
        phi = implied[f_idx, f_idx]
        block = sample[np.ix_(idx, idx)]
        theta_block = s_matrix[np.ix_(var_idx, var_idx)]
        item_data = data[list(f.indicators)].to_numpy(dtype=float)
        rows.append(
            {
                "construct": f.name,
                "n_items": len(f.indicators),
                "alpha": float(cronbach_alpha(item_data)),
                "alpha_std": float(standardized_alpha(item_data)),
                "omega": float(omega(lam, phi, block.sum())),
                "cr": float(composite_reliability(lam, phi, theta_block)),
                "ave": float(average_variance_extracted(lam, phi, np.diag(block))),
                "cr_std_loadings": float(cr_from_standardized(std_lam)),
                "ave_std_loadings": float(ave_from_standardized(std_lam)),
            }
        )
    out = pd.DataFrame(rows)
    _, ok = fornell_larcker(out["ave"].to_numpy(), latent_corr)
    m = len(factors)
    off = ~np.eye(m, dtype=bool)
    largest = np.array(
        [np.max(np.abs(latent_corr[i][off[i]])) if m > 1 else np.nan for i in range(m)]
    )
    out["sqrt_ave"] = np.sqrt(out["ave"])
    out["max_abs_corr"] = largest
    out["cr_ok"] = out["cr"] > CR_MIN
    out["ave_ok"] = out["ave"] > AVE_MIN
    out["fornell_larcker_ok"] = ok
    return out[list(RELIABILITY_COLUMNS)]


def htmt_table(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """HTMT (semTools 0.5-6 ``htmt(model, data)``: HTMT2 of absolute Pearson correlations).

    Rows with a missing item are dropped (semTools' ``missing = "listwise"``). Returns a DataFrame
    with a ``construct`` column then one column per first-order construct, 1 on the diagonal.
    """
    factors = spec.first_order
    items = [i for f in factors for i in f.indicators]
    x = data[items].dropna().to_numpy(dtype=float)
    corr = np.corrcoef(x, rowvar=False)
    blocks, start = [], 0
    for f in factors:
        blocks.append(list(range(start, start + len(f.indicators))))
        start += len(f.indicators)
    names = [f.name for f in factors]
    out = pd.DataFrame(htmt(corr, blocks), columns=names)
    out.insert(0, "construct", names)
    return out


def htmt_flags(htmt_df: pd.DataFrame, threshold: float = HTMT_MAX) -> pd.DataFrame:
    """Pairs of constructs whose HTMT exceeds `threshold`: columns construct_a, construct_b, htmt."""
    names = list(htmt_df["construct"])
    values = htmt_df[names].to_numpy(dtype=float)
    rows = [
        {"construct_a": a, "construct_b": names[j], "htmt": values[i, j]}
        for i, a in enumerate(names)
        for j in range(i + 1, len(names))
        if values[i, j] > threshold
    ]
    return pd.DataFrame(rows, columns=["construct_a", "construct_b", "htmt"])


def vif_table(table: ParameterTable, theta: np.ndarray, spec: ModelSpec) -> pd.DataFrame:
    """VIF of the predictors of every structural outcome with at least two predictors.

    Uses the model-implied covariances of the latent (and observed structural) variables at
    `theta` (a single fitted vector). Columns: outcome, predictor, vif.
    """
    implied = table.implied(np.asarray(theta, dtype=float))
    predictors: dict[str, list[str]] = {}
    for r in spec.regressions:
        predictors.setdefault(r.outcome, []).append(r.predictor)
    multi = {o: p for o, p in predictors.items() if len(p) >= 2}
    index = {o: [table.variables.index(p) for p in ps] for o, ps in multi.items()}
    vifs = variance_inflation(implied, index)
    rows = [
        {"outcome": o, "predictor": p, "vif": float(v)}
        for o, ps in multi.items()
        for p, v in zip(ps, vifs[o], strict=True)
    ]
    return pd.DataFrame(rows, columns=["outcome", "predictor", "vif"])


def item_table(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Item statistics per first-order construct.

    Columns: construct, item, mean, sd (N - 1 divisor; NaN skipped), item_total_r (corrected
    item-total correlation) and alpha_if_deleted (raw alpha of the other items); the last two use
    pairwise covariances, as psych::alpha's ``r.drop`` and ``alpha.drop``.
    """
    rows = []
    for f in spec.first_order:
        x = data[list(f.indicators)].to_numpy(dtype=float)
        cov = pairwise_covariance(x)
        r_drop = item_total_from_cov(cov)
        a_drop = alpha_if_deleted_from_cov(cov)
        for k, item in enumerate(f.indicators):
            rows.append(
                {
                    "construct": f.name,
                    "item": item,
                    "mean": float(np.nanmean(x[:, k])),
                    "sd": float(np.nanstd(x[:, k], ddof=1)),
                    "item_total_r": float(r_drop[k]),
                    "alpha_if_deleted": float(a_drop[k]),
                }
            )
    return pd.DataFrame(
        rows, columns=["construct", "item", "mean", "sd", "item_total_r", "alpha_if_deleted"]
    )
