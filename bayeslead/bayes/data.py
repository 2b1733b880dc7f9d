"""What the Bayesian model reads from the responses: standardised sufficient statistics
(continuous items) or category codes (ordinal items), prepared once in numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeslead.data.patterns import PatternGroup, pattern_groups


@dataclass(frozen=True)
class ContinuousData:
    """Items standardised to z-scores; complete data as a scatter matrix, else pattern groups."""

    n: int
    mean: np.ndarray  # raw item means (for reporting)
    sd: np.ndarray  # raw item SDs (divisor N - 1); z = (x - mean) / sd
    scatter: np.ndarray | None  # sum (z - zbar)(z - zbar)' (complete data)
    groups: list[PatternGroup] | None  # missing-data patterns of z (missing data)
    z: np.ndarray  # the standardised data (NaN = missing), for pointwise log-likelihoods

    @property
    def complete(self) -> bool:
        return self.groups is None


@dataclass(frozen=True)
class OrdinalData:
    """Observed categories, recoded per item to 0..K_j-1 over the categories that occur."""

    n: int
    respondent: np.ndarray  # (E,) row of each observed response
    item: np.ndarray  # (E,) item index of each observed response
    category: np.ndarray  # (E,) 0-based category among the item's observed categories
    n_categories: np.ndarray  # (p,) categories observed per item
    values: list[np.ndarray]  # per item: the response values that occur, in order
    proportions: list[np.ndarray]  # per item: observed category proportions


def continuous_data(
    x: np.ndarray, standardize: bool = True, pooled: bool = False
) -> ContinuousData:
    """Standardise `x` (N x p, NaN = missing) and compute what the likelihood needs.

    `standardize=False` only centres the items (SD 1 is assumed): the likelihood is then that
    of the raw data, as simulation-based calibration requires. `pooled` divides every item by
    one SD (the root mean item variance), which keeps equalities of lavaan's marker metric.
    """
    mean = np.nanmean(x, axis=0)
    sd = np.nanstd(x, axis=0, ddof=1) if standardize else np.ones(x.shape[1])
    if pooled:
        sd = np.full(x.shape[1], np.sqrt(np.mean(np.nanvar(x, axis=0, ddof=1))))
    z = (x - mean) / sd
    if not np.isnan(z).any():
        centred = z - z.mean(axis=0)
        scatter = centred.T @ centred
        return ContinuousData(len(z), mean, sd, scatter, None, z)
    rows = z[~np.isnan(z).all(axis=1)]
    return ContinuousData(len(rows), mean, sd, None, pattern_groups(rows), rows)


def ordinal_data(x: np.ndarray) -> OrdinalData:
    """Category codes of integer responses `x` (N x p, NaN = missing); empty categories dropped."""
    n, p = x.shape
    codes = np.full(x.shape, -1)
    values, proportions = [], []
    for j in range(p):
        observed = x[:, j][~np.isnan(x[:, j])]
        levels = np.unique(observed)
        values.append(levels)
        counts = np.array([(observed == v).sum() for v in levels])
        proportions.append(counts / counts.sum())
        present = ~np.isnan(x[:, j])
        codes[present, j] = np.searchsorted(levels, x[present, j])
    respondent, item = np.nonzero(codes >= 0)
    return OrdinalData(
        n=n,
        respondent=respondent,
        item=item,
        category=codes[respondent, item],
        n_categories=np.array([len(v) for v in values]),
        values=values,
        proportions=proportions,
    )
