"""Multi-group ML tables: the `~1` rows of each group and lavaan's multi-group fit measures.

Fit measures (lavaan 0.6's definitions for several groups): chi-square and logl summed over the
groups; df = G (p(p+1)/2 + p) - npar; the baseline is the independence model with free means and
variances in every group; CFI and TLI from those; RMSEA and its interval multiplied by sqrt(G)
(Steiger 1998, lavaan's multi-group RMSEA) with N the total sample size; SRMR (with the mean
residuals) averaged over the groups weighted by their sizes; AIC and BIC (log N).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from bayeslead.core.effects import effect_draws
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


DIFFERENCE_COLUMNS = [
    "quantity", "kind", "group", "versus", "est", "se", "z", "pvalue", "ci_lower", "ci_upper",
]  # fmt: skip


def comparability(table: GroupTable) -> tuple[bool, bool, str]:
    """Whether paths and named effects (loadings equal) and latent means (loadings and
    intercepts equal) are comparable across groups, and a sentence saying so."""
    keywords = {table.keywords[k] for k in range(len(table.keys)) if _equal_everywhere(table, k)}
    paths = "loadings" in keywords or not table.base.free_params
    return comparable(paths, paths and "intercepts" in keywords)


def comparable(paths: bool, means: bool) -> tuple[bool, bool, str]:
    """`paths`, `means` and the sentence saying which group differences are reported."""
    if means:
        return (
            True,
            True,
            (
                "loadings and item intercepts equal across groups (at least partially): latent means, "
                "paths and effects are compared"
            ),
        )
    if paths:
        return (
            True,
            False,
            (
                "loadings equal but item intercepts free across groups: paths and effects are "
                "compared, latent means are not (they need scalar invariance: add intercepts to "
                "group_equal once the invariance ladder's scalar level holds)"
            ),
        )
    return (
        False,
        False,
        (
            "loadings free across groups (configural): no group differences are reported; paths "
            "and latent means are comparable once metric / scalar invariance holds (bayeslead "
            "invariance)"
        ),
    )


def _equal_everywhere(table: GroupTable, k: int) -> bool:
    """Local parameter k has one global index in every group (equal across groups)."""
    column = table.index[:, k]
    return bool(column[0] >= 0 and np.all(column == column[0]))


def group_differences(
    spec, table, x: np.ndarray, cov_x: np.ndarray, paths_ok: bool, means_ok: bool
) -> pd.DataFrame:
    """Differences between every pair of groups (group minus versus) of structural paths,
    named effects (`paths_ok`) and latent means (`means_ok`), with delta-method SEs and Wald
    intervals. `table`: a `GroupTable`, or an `OrdinalTable` (the same local layout: base free
    parameters, item intercepts, latent means)."""
    base, q, p = table.base, table.q, table.base.n_manifest
    steps = 1e-6 * np.maximum(1.0, np.abs(x))
    shifted = np.concatenate([x[None, :], x + np.diag(steps), x - np.diag(steps)])

    def quantities(g: int) -> tuple[list[tuple[str, str]], np.ndarray]:
        phi = table.local(shifted, g)
        names, values = [], []
        if paths_ok:
            for r in spec.regressions:
                names.append((r.key, "path"))
                values.append(phi[:, base.index(r.key)])
            for d in effect_draws(spec, base, phi[:, :q]):
                names.append((d.effect.name, d.kind))
                values.append(d.raw)
        if means_ok:
            for j, name in enumerate(base.variables[p:]):
                names.append((f"{name} ~1", "latent_mean"))
                values.append(phi[:, q + p + j])
        return names, np.stack(values, axis=-1) if values else np.zeros((len(shifted), 0))

    rows = []
    for g, h in combinations(range(len(table.groups)), 2):
        names, value_g = quantities(g)
        _, value_h = quantities(h)
        diff = value_g - value_h
        n = len(x)
        grad = (diff[1 : n + 1] - diff[n + 1 :]) / (2 * steps[:, None])
        se = np.sqrt(np.clip(np.einsum("kr,kl,lr->r", grad, cov_x, grad), 0, None))
        for k, (quantity, kind) in enumerate(names):
            est = float(diff[0, k])
            z = est / se[k] if se[k] > 1e-12 else np.nan
            rows.append(
                {
                    "quantity": quantity,
                    "kind": kind,
                    "group": table.groups[g],
                    "versus": table.groups[h],
                    "est": est,
                    "se": float(se[k]),
                    "z": z,
                    "pvalue": 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan,
                    "ci_lower": est - Z95 * se[k],
                    "ci_upper": est + Z95 * se[k],
                }
            )
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)
