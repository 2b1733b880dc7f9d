"""Multi-group ML tables: the `~1` rows of each group and lavaan's multi-group fit measures.

Fit measures (lavaan 0.6's definitions for several groups): chi-square and logl summed over the
groups; df = G (p(p+1)/2 + p) - npar; the baseline is the independence model with free means and
variances in every group; CFI and TLI from those; RMSEA and its interval multiplied by sqrt(G)
(Steiger 1998, lavaan's multi-group RMSEA) with N the total sample size; SRMR (with the mean
residuals) averaged over the groups weighted by their sizes; AIC and BIC (log N).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayeslead.core.groups import GroupTable
from bayeslead.core.groups_ml import GroupSample, group_minus2_loglik
from bayeslead.core.mvnorm import LOG2PI
from bayeslead.sem.fitmeasures import chisq_fit
from bayeslead.sem.tables import Z95


def mean_rows(table: GroupTable, phi: np.ndarray, cov: np.ndarray, g: int) -> pd.DataFrame:
    """Group g's `~1` rows: item intercepts and latent means (intercepts of endogenous
    latents), std.all = value / model-implied SD; fixed means have se 0."""
    q = table.q
    v = len(table.base.variables)
    value = table.means(phi)
    se = np.sqrt(np.clip(np.diag(cov)[q:], 0, None))
    se[table.index[g, q:] < 0] = 0.0
    sd = np.sqrt(np.diag(table.base.implied(phi[:q])))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, value / se, np.nan)
    return pd.DataFrame(
        {
            "lhs": list(table.base.variables),
            "op": "~1",
            "rhs": "",
            "label": "",
            "est": value,
            "se": se,
            "z": z,
            "pvalue": np.where(se > 0, 2 * stats.norm.sf(np.abs(z)), np.nan),
            "ci_lower": value - Z95 * se,
            "ci_upper": value + Z95 * se,
            "std_est": value / sd[:v],
        }
    )


def group_fit_measures(
    table: GroupTable, x: np.ndarray, samples: list[GroupSample]
) -> dict[str, float]:
    """lavaan's fit measures of a multi-group ML (or FIML) fit (see the module docstring)."""
    n = sum(s.n for s in samples)
    n_groups = len(samples)
    p = table.base.n_manifest
    m2ll = group_minus2_loglik(table, x, samples)
    h1 = np.array([s.m2ll_h1 for s in samples])
    base = np.array([_independence_m2ll(s.x) for s in samples])
    npar = table.n_free
    chisq = float(max(m2ll.sum() - h1.sum(), 0.0))
    df = n_groups * (p * (p + 1) // 2 + p) - npar
    chisq_base = float(base.sum() - h1.sum())
    df_base = n_groups * p * (p - 1) // 2
    out = {"npar": float(npar), "chisq": chisq, "df": float(df)}
    out |= chisq_fit(chisq, df, chisq_base, df_base, n)
    for key in ("rmsea", "rmsea_ci_lower", "rmsea_ci_upper"):
        out[key] *= np.sqrt(n_groups)
    out["srmr"] = float(sum(s.n * _srmr(table, x, g, s) for g, s in enumerate(samples)) / n)
    logl = -0.5 * float(m2ll.sum())
    out["logl"] = logl
    out["unrestricted_logl"] = -0.5 * float(h1.sum())
    out["aic"] = -2 * logl + 2 * npar
    out["bic"] = -2 * logl + np.log(n) * npar
    out["baseline_chisq"] = chisq_base
    out["baseline_df"] = float(df_base)
    for g, (value, ref) in enumerate(zip(m2ll, h1, strict=True)):
        out[f"chisq_group{g + 1}"] = float(value - ref)
    return out


def _srmr(table: GroupTable, x: np.ndarray, g: int, sample: GroupSample) -> float:
    """One group's SRMR with its mean residuals (lavaan's ``srmr_bentler``)."""
    sigma, mu = table.moments(table.local(x, g))
    sd = np.sqrt(np.diag(sample.cov))
    resid = (sample.cov - sigma) / np.outer(sd, sd)
    rows, cols = np.tril_indices(len(sd))
    means = (sample.mean - mu) / sd
    return float(
        np.sqrt((np.sum(resid[rows, cols] ** 2) + np.sum(means**2)) / (len(rows) + len(sd)))
    )


def _independence_m2ll(x: np.ndarray) -> float:
    """-2 logL of the independence model (each item's own mean and variance, observed cells)."""
    total = 0.0
    for column in x.T:
        seen = column[~np.isnan(column)]
        var = seen.var()
        total += float(np.sum(LOG2PI + np.log(var) + (seen - seen.mean()) ** 2 / var))
    return total
