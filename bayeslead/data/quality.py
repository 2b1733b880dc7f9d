"""Respondent-level data-quality flags, computed on the raw (not reverse-scored) responses.

- missing responses per respondent and the missing-data patterns;
- longstring: the longest run of identical consecutive answers in questionnaire order
  (Johnson 2005), flagged when it covers at least half of the items;
- intra-individual response variability (IRV, Dunn et al. 2018): the SD of a respondent's answers,
  flagged when it is 0 (every answer identical);
- Mahalanobis distance of the item vector from the sample centroid, flagged at p < .001;
- failed instructed-response (attention-check) items, where the instrument defines them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayeslead.data.intake import ResponseData
from bayeslead.data.patterns import missing_patterns

LONGSTRING_SHARE = 0.5
MAHALANOBIS_ALPHA = 0.001


def longstring(values: np.ndarray) -> np.ndarray:
    """Longest run of identical consecutive non-missing answers in each row (vectorised)."""
    n, k = values.shape
    if k == 0:
        return np.zeros(n, dtype=int)
    # compress each row's non-missing answers to the left, keeping their order
    present = ~np.isnan(values)
    order = np.argsort(~present, axis=1, kind="stable")
    packed = np.take_along_axis(values, order, axis=1)
    count = present.sum(axis=1)
    same = packed[:, 1:] == packed[:, :-1]
    same &= np.arange(1, k)[None, :] < count[:, None]
    best = np.where(count > 0, 1, 0)
    run = np.ones(n, dtype=int)
    for j in range(k - 1):  # a loop over columns, vectorised over respondents
        run = np.where(same[:, j], run + 1, 1)
        best = np.maximum(best, np.where(same[:, j], run, best))
    return best


def response_variability(values: np.ndarray) -> np.ndarray:
    """Intra-individual response variability: SD (ddof 0) of each row's answers."""
    out = np.full(values.shape[0], np.nan)
    ok = (~np.isnan(values)).sum(axis=1) > 0
    out[ok] = np.nanstd(values[ok], axis=1)
    return out


def mahalanobis(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared Mahalanobis distances and chi-square p-values (observed items of each row).

    The centroid and covariance come from the complete rows (all rows when there are too few);
    rows are processed by missing-data pattern.
    """
    complete = values[~np.isnan(values).any(axis=1)]
    base = complete if complete.shape[0] > values.shape[1] + 1 else values
    mean = np.nanmean(base, axis=0)
    cov = pd.DataFrame(base).cov().to_numpy()
    d2 = np.full(values.shape[0], np.nan)
    pvalue = np.full(values.shape[0], np.nan)
    seen = ~np.isnan(values)
    patterns, index = np.unique(seen, axis=0, return_inverse=True)
    for g, pattern in enumerate(patterns):
        if pattern.sum() < 2:
            continue
        rows = np.flatnonzero(np.ravel(index) == g)
        diff = values[np.ix_(rows, np.flatnonzero(pattern))] - mean[pattern]
        inv = np.linalg.pinv(cov[np.ix_(pattern, pattern)])
        d2[rows] = np.einsum("ij,jk,ik->i", diff, inv, diff)
        pvalue[rows] = stats.chi2.sf(d2[rows], df=int(pattern.sum()))
    return d2, pvalue


def quality_table(data: ResponseData) -> pd.DataFrame:
    """One row per respondent with the quality indices and flags."""
    items = [c for c in data.frame.columns if c in data.ranges]
    raw = data.raw[items].to_numpy(dtype=float)
    k = len(items)
    table = pd.DataFrame(index=data.frame.index)
    if data.ids is not None:
        table["respondent"] = data.ids.to_numpy()
    table["row"] = data.frame.index + 2
    table["n_missing"] = np.isnan(raw).sum(axis=1)
    table["longstring"] = longstring(raw)
    table["irv"] = response_variability(raw)
    d2, pvalue = mahalanobis(raw)
    table["mahalanobis_d2"] = d2
    table["mahalanobis_p"] = pvalue
    table["flag_missing_all"] = table["n_missing"] == k
    table["flag_longstring"] = table["longstring"] >= max(2, int(np.ceil(LONGSTRING_SHARE * k)))
    table["flag_irv"] = table["irv"] == 0
    table["flag_outlier"] = table["mahalanobis_p"] < MAHALANOBIS_ALPHA
    failed = np.zeros(len(table), dtype=int)
    for check, expected in data.attention.items():
        answers = data.raw[check].to_numpy()
        failed += (answers != expected).astype(int)  # a missing answer counts as failed
    table["failed_attention"] = failed
    table["flag_attention"] = failed > 0
    flags = [c for c in table.columns if c.startswith("flag_")]
    table["flagged"] = table[flags].any(axis=1)
    return table


def quality_summary(data: ResponseData, table: pd.DataFrame) -> dict[str, object]:
    """Counts that `bayeslead data check` prints and the run manifest records."""
    frame = data.frame
    cells = frame.size
    per_item = frame.isna().sum()
    return {
        "respondents": int(len(frame)),
        "variables": int(frame.shape[1]),
        "missing_cells": int(frame.isna().to_numpy().sum()),
        "missing_share": float(frame.isna().to_numpy().sum() / cells) if cells else 0.0,
        "complete_rows": int((~frame.isna().any(axis=1)).sum()),
        "missing_patterns": int(len(missing_patterns(frame))),
        "most_missing_items": {
            k: int(v) for k, v in per_item.sort_values(ascending=False).head(3).items() if v > 0
        },
        "reversed_items": list(data.reversed_items),
        "converted": dict(data.conversions),
        "flagged": {c[5:]: int(table[c].sum()) for c in table.columns if c.startswith("flag_")},
        "flagged_any": int(table["flagged"].sum()),
    }
