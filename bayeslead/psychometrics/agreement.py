"""Within-group agreement and reliability of group means: can informants be aggregated to firms?

Definitions follow the R package `multilevel` (2.7), which the tests match to 3 decimals:

* rwg(j) (James, Demaree & Wolf 1984): S = mean over the J items of the within-firm item variances
  (divisor n - 1, rows complete on the construct's items), truncated at the null variance;
  ``rwg(j) = J (1 - S/v) / (J (1 - S/v) + S/v)``; NA for a firm with fewer than 2 complete rows.
* awg (Brown & Hauenstein 2005), per item ``1 - 2 var / (((H + L) M - M^2 - H L) k / (k - 1))``,
  NA when the item mean M is too close to the scale ends for the variance to reach its maximum,
  1 when M is at an end; the firm's awg is the mean over its non-NA items.
* ICC(1) = (MSB - MSW) / (MSB + (n_bar - 1) MSW) with n_bar = N / G (multilevel's plain mean group
  size) and ICC(2) = (MSB - MSW) / MSB (Bliese 2000), from the one-way ANOVA of the informants'
  construct scores (mean of the available items). Negative values are reported, not truncated.

Null distributions of rwg(j): `uniform` (A^2 - 1) / 12 for an A-point scale, and `slight_skew`
(LeBreton & Senter 2008, Table 3: 1.34 for 5 points, 2.90 for 7 points).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.psychometrics.roles import role_differences

AGREEMENT_MIN = 0.70
"""rwg(j) and awg above which a firm's informants are conventionally taken to agree."""
SLIGHT_SKEW = {5: 1.34, 7: 2.90}
"""Null variance of a slightly skewed response distribution (LeBreton & Senter 2008)."""
NULLS = ("uniform", "slight_skew")


def null_variance(null: str, low: int, high: int) -> float:
    """Expected item variance under no agreement for a `low`..`high` scale (NaN if not tabled)."""
    points = high - low + 1
    if null == "uniform":
        return (points**2 - 1) / 12.0
    if null == "slight_skew":
        return SLIGHT_SKEW.get(points, float("nan"))
    raise ValueError(f"unknown null distribution {null!r}; choose from {', '.join(NULLS)}")


def rwg_j(items: np.ndarray, null_var: float) -> float:
    """rwg(j) of one firm's complete rows (n x J); NaN with fewer than 2 rows."""
    if items.shape[0] < 2 or not np.isfinite(null_var):
        return float("nan")
    s = min(float(np.mean(np.var(items, axis=0, ddof=1))), null_var)
    j = items.shape[1]
    ratio = s / null_var
    return j * (1 - ratio) / (j * (1 - ratio) + ratio)


def awg(items: np.ndarray, low: float, high: float) -> float:
    """awg of one firm's complete rows (n x J): the mean of the items' awg (NaN if none)."""
    k = items.shape[0]
    if k < 2:
        return float("nan")
    values = []
    for column in items.T:
        m = float(np.mean(column))
        if m in (high, low):
            values.append(1.0)
        elif m < (low * (k - 1) + high) / k or m > (high * (k - 1) + low) / k:
            continue
        else:
            top = ((high + low) * m - m**2 - high * low) * k / (k - 1)
            values.append(1 - 2 * float(np.var(column, ddof=1)) / top)
    return float(np.mean(values)) if values else float("nan")


def icc_oneway(scores: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """ICC(1), ICC(2), MSB, MSW and degrees of freedom of the one-way ANOVA (scores by group)."""
    keep = np.isfinite(scores)
    scores, groups = scores[keep], groups[keep]
    labels, index = np.unique(groups, return_inverse=True)
    n, g = len(scores), len(labels)
    sizes = np.bincount(index)
    means = np.bincount(index, weights=scores) / sizes
    grand = scores.mean()
    msb = float(np.sum(sizes * (means - grand) ** 2) / (g - 1))
    msw = float(np.sum((scores - means[index]) ** 2) / (n - g))
    n_bar = n / g
    return {
        "ICC1": (msb - msw) / (msb + (n_bar - 1) * msw),
        "ICC2": (msb - msw) / msb,
        "MSB": msb,
        "MSW": msw,
        "df_between": g - 1,
        "df_within": n - g,
    }


def firm_agreement(items: pd.DataFrame, groups: pd.Series, low: int, high: int) -> pd.DataFrame:
    """Per firm: informants, complete rows, mean item variance, rwg(j) under each null, awg and
    the firm mean of the informants' construct scores."""
    scores = items.mean(axis=1, skipna=True)
    complete = items.notna().all(axis=1)
    nulls = {null: null_variance(null, low, high) for null in NULLS}
    rows = []
    for firm, block in items.groupby(groups, sort=True):
        full = block[complete.loc[block.index]].to_numpy(dtype=float)
        row = {
            "firm": firm,
            "n_informants": len(block),
            "n_complete": len(full),
            "mean_item_var": float(np.mean(np.var(full, axis=0, ddof=1)))
            if len(full) > 1
            else float("nan"),
        }
        for null, variance in nulls.items():
            row[f"rwg_j_{null}"] = rwg_j(full, variance)
        row["awg"] = awg(full, low, high)
        row["firm_mean"] = float(scores.loc[block.index].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(values: pd.Series, prefix: str) -> dict[str, float]:
    """Mean, median and share strictly above `AGREEMENT_MIN` over firms with a value."""
    ok = values.dropna()
    return {
        f"{prefix}_mean": float(ok.mean()) if len(ok) else float("nan"),
        f"{prefix}_median": float(ok.median()) if len(ok) else float("nan"),
        f"{prefix}_share_gt_70": float((ok > AGREEMENT_MIN).mean()) if len(ok) else float("nan"),
        f"{prefix}_n_na": int(values.isna().sum()),
    }


def construct_agreement(
    items: pd.DataFrame, groups: pd.Series, low: int, high: int
) -> tuple[dict[str, float], pd.DataFrame]:
    """One construct's summary row (rwg(j) under both nulls, awg, ICC(1), ICC(2), informants per
    firm) and its per-firm table."""
    firms = firm_agreement(items, groups, low, high)
    sizes = groups.value_counts()
    summary: dict[str, float] = {
        "scale_low": low,
        "scale_high": high,
        "n_firms": int(len(firms)),
        "n_informants": int(len(items)),
        "informants_mean": float(sizes.mean()),
        "informants_min": int(sizes.min()),
        "informants_max": int(sizes.max()),
    }
    for null in NULLS:
        summary[f"null_variance_{null}"] = null_variance(null, low, high)
        summary |= summarise(firms[f"rwg_j_{null}"], f"rwg_j_{null}")
    summary |= summarise(firms["awg"], "awg")
    scores = items.mean(axis=1, skipna=True).to_numpy(dtype=float)
    summary |= icc_oneway(scores, groups.to_numpy())
    return summary, firms


@dataclass(frozen=True)
class AgreementTables:
    """Per construct summary, per firm and construct detail, firm means (wide) and role rows."""

    summary: pd.DataFrame
    firms: pd.DataFrame
    firm_means: pd.DataFrame
    roles: pd.DataFrame | None


def natural_ids(ids: pd.Series) -> pd.Series:
    """Numeric ids as numbers (so firms sort 1, 2, 10), other ids unchanged."""
    numbers = pd.to_numeric(ids, errors="coerce")
    if numbers.isna().any():
        return ids
    return numbers.astype(int) if (numbers == numbers.round()).all() else numbers


def agreement_tables(
    frame: pd.DataFrame,
    constructs: dict[str, tuple[str, ...]],
    firms: pd.Series,
    scales: dict[str, tuple[int, int]],
    roles: pd.Series | None = None,
    firm_column: str = "firm",
) -> AgreementTables:
    """Agreement, ICCs and firm means of every construct (items: `constructs[name]`, response
    range `scales[name]`), and role differences when `roles` is given."""
    firms = natural_ids(firms)
    summaries, per_firm, means, role_rows = [], [], {}, []
    for name, indicators in constructs.items():
        items = frame[list(indicators)]
        summary, table = construct_agreement(items, firms, *scales[name])
        summaries.append({"construct": name, "n_items": len(indicators)} | summary)
        per_firm.append(table.assign(construct=name))
        means[name] = table.set_index("firm")["firm_mean"]
        if roles is not None:
            scores = items.mean(axis=1, skipna=True)
            role_rows.append(role_differences(scores, roles, name))
    firm_table = pd.concat(per_firm, ignore_index=True)
    firm_table = firm_table[["construct", *[c for c in firm_table.columns if c != "construct"]]]
    sizes = firms.value_counts().rename("n_informants")
    wide = pd.DataFrame(means).join(sizes).rename_axis(firm_column).reset_index()
    return AgreementTables(
        pd.DataFrame(summaries),
        firm_table,
        wide[[firm_column, "n_informants", *means]],
        pd.concat(role_rows, ignore_index=True) if role_rows else None,
    )


def informant_agreement(
    spec: ModelSpec, data: ResponseData, cluster: str, role: str | None = None
) -> AgreementTables:
    """Agreement and ICCs of every first-order construct of `spec` across the firms of the
    `cluster` column (response ranges from the validated data), roles from `role`."""
    constructs = {f.name: f.indicators for f in spec.first_order}
    ranges = {}
    for name, items in constructs.items():
        found = {data.ranges.get(i) for i in items}
        if None in found or len(found) > 1:
            raise InputError(
                f"Config: constructs.{name}: agreement needs one known response scale per "
                f"construct (an instrument or data.scale), found {sorted(map(str, found))}"
            )
        ranges[name] = found.pop()
    firms = data.id_column(cluster, "firm (cluster) id")
    roles = data.clusters[role] if role else None
    return agreement_tables(data.frame, constructs, firms, ranges, roles, cluster)


def cluster_agreement(spec: ModelSpec, data: ResponseData) -> pd.DataFrame | None:
    """The agreement summary of a two-level run (`agreement.csv`, either engine), or None when
    a construct's response scale is unknown (no instrument and no data.scale)."""
    try:
        return informant_agreement(spec, data, spec.cluster).summary
    except InputError:
        return None
