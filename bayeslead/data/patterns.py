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
    return stack_patterns(x, pattern_layout(~np.isnan(x)))


Layout = list[list[tuple[np.ndarray, np.ndarray]]]  # per group: (observed columns, rows)


def pattern_layout(seen: np.ndarray) -> Layout:
    """Which rows share each pattern of `seen` (N x p, True = observed), patterns grouped by
    their number of observed variables: computed once for data sets with the same blanks
    (posterior predictive replicates)."""
    keys, inverse = np.unique(seen, axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    by_size: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for g, key in enumerate(keys):
        if key.sum() == 0:
            continue
        by_size.setdefault(int(key.sum()), []).append(
            (np.flatnonzero(key), np.flatnonzero(inverse == g))
        )
    return [members for _, members in sorted(by_size.items())]


def stack_patterns(x: np.ndarray, layout: Layout) -> list[PatternGroup]:
    """The pattern groups of `x` for a `pattern_layout` of its blank cells."""
    groups = []
    for members in layout:
        blocks = [x[np.ix_(rows, obs)] for obs, rows in members]
        means = np.stack([rows.mean(axis=0) for rows in blocks])
        centred = [rows - mean for rows, mean in zip(blocks, means, strict=True)]
        scatter = np.stack([d.T @ d / len(d) for d in centred])
        groups.append(
            PatternGroup(
                observed=np.stack([obs for obs, _ in members]),
                n=np.array([len(rows) for _, rows in members], dtype=float),
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
