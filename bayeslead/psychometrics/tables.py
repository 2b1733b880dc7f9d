"""Measurement-quality tables of a fitted model in the layout of the R references: reliability
and validity per construct, HTMT, VIF and item statistics. Thresholds are conventions that are
flagged, never enforced."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec
from bayeslead.psychometrics.reliability import (
    alpha_if_deleted_from_cov,
    ave_from_standardized,
    average_variance_extracted,
    composite_reliability,
    cov_to_corr,
    cr_from_standardized,
    cronbach_alpha,
    item_total_from_cov,
    omega,
    pairwise_covariance,
    standardized_alpha,
)
from bayeslead.psychometrics.validity import fornell_larcker, htmt, variance_inflation

CR_MIN = 0.70
"""Composite reliability above which a construct is flagged reliable (Hair et al.)."""
AVE_MIN = 0.50
"""Average variance extracted above which convergent validity is flagged (Fornell & Larcker)."""
HTMT_MAX = 0.85
"""HTMT above which a pair of constructs is flagged (Henseler, Ringle & Sarstedt 2015)."""

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
) -> pd.DataFrame | None:
    """Reliability and convergent/discriminant validity of each first-order construct (None for
    a path model on observed variables only).

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
    if not factors:
        return None
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


def latent_correlation_table(
    table: ParameterTable, theta: np.ndarray, spec: ModelSpec
) -> pd.DataFrame | None:
    """Model-implied correlations of the first-order constructs (the off-diagonal of the
    Fornell-Larcker table), one row per construct with a `construct` column first; None
    without constructs."""
    names = [f.name for f in spec.first_order]
    if not names:
        return None
    corr = _latent_correlations(table, np.asarray(theta, dtype=float), names)
    out = pd.DataFrame(corr, columns=names)
    out.insert(0, "construct", names)
    return out


def htmt_table(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame | None:
    """HTMT (semTools 0.5-6 ``htmt(model, data)``: HTMT2 of absolute Pearson correlations).

    Rows with a missing item are dropped (semTools' ``missing = "listwise"``). Returns a DataFrame
    with a ``construct`` column then one column per first-order construct, 1 on the diagonal;
    None without constructs (a path model on observed variables only).
    """
    factors = spec.first_order
    if not factors:
        return None
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
