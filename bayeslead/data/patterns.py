"""Missing-data patterns of a response matrix: one concept, two views.

`pattern_groups` stacks the rows of each pattern (observed columns, count, mean, scatter) for the
normal likelihoods of both engines (FIML, the Bayesian pattern likelihood, EM saturated moments);
`missing_patterns` is the table the data-quality report counts. Model-free, as lavaan's
``lav_data_patterns.R``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PatternGroup:
    """Missing-data patterns with the same number k of observed variables."""

    observed: np.ndarray  # (patterns, k) indices of the observed variables
    n: np.ndarray  # (patterns,) respondents per pattern
    mean: np.ndarray  # (patterns, k)
    scatter: np.ndarray  # (patterns, k, k) covariance about the pattern mean, divisor n


def pattern_groups(x: np.ndarray) -> list[PatternGroup]:
    """Group the rows of `x` (NaN = missing) by pattern, stacked by number observed."""
    seen = ~np.isnan(x)
    keys, inverse = np.unique(seen, axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    by_size: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for g, key in enumerate(keys):
        if key.sum() == 0:
            continue
        rows = x[inverse == g][:, key]
        by_size.setdefault(int(key.sum()), []).append((np.flatnonzero(key), rows))
    groups = []
    for _, members in sorted(by_size.items()):
        means = np.stack([rows.mean(axis=0) for _, rows in members])
        scatter = np.stack(
            [np.cov(rows.T, bias=True).reshape(len(obs), len(obs)) for obs, rows in members]
        )
        groups.append(
            PatternGroup(
                observed=np.stack([obs for obs, _ in members]),
                n=np.array([rows.shape[0] for _, rows in members], dtype=float),
                mean=means,
                scatter=scatter,
            )
        )
    return groups


def missing_patterns(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing-data patterns: one row per pattern with its count ('1' = observed)."""
    pattern = frame.notna().astype(int).astype(str).agg("".join, axis=1)
    counts = pattern.value_counts()
    out = pd.DataFrame({"pattern": counts.index, "n": counts.to_numpy()})
    out["n_missing_items"] = out["pattern"].str.count("0")
    return out.reset_index(drop=True)
