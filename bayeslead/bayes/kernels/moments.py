"""Missing-data pattern moments of standardised items, stacked for the likelihood Op.

Complete data is one pattern whose scatter matrix is taken about the sample mean, with weight
N - 1 and no mean term: the item means are integrated out under a flat prior. With missing
values each pattern carries its own scatter, mean and count, and the item intercepts are
sampled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatternMoments:
    """Stacked pattern statistics, padded to all p items (zeros where unobserved)."""

    observed: np.ndarray  # (P, p) 1.0 where observed
    weight: np.ndarray  # (P,) multiplier of the log-determinant (n_g, or N - 1 for complete data)
    count: np.ndarray  # (P,) respondents n_g (mean term)
    scatter: np.ndarray  # (P, p, p) sum of (z - pattern mean)(z - pattern mean)'
    mean: np.ndarray  # (P, p) pattern means


def complete_moments(scatter: np.ndarray, n: int) -> PatternMoments:
    """Complete data with the item means integrated out (flat prior): weight N - 1, no mean term."""
    p = scatter.shape[0]
    return PatternMoments(
        np.ones((1, p)), np.array([n - 1.0]), np.zeros(1), scatter[None], np.zeros((1, p))
    )


def pattern_moments(groups, p: int) -> PatternMoments:
    """Stack `bayeslead.data.patterns.pattern_groups` output into padded arrays."""
    observed, count, scatter, mean = [], [], [], []
    for grp in groups:
        for obs, n_g, mean_g, scatter_g in zip(
            grp.observed, grp.n, grp.mean, grp.scatter, strict=True
        ):
            o = np.zeros(p)
            o[obs] = 1.0
            s = np.zeros((p, p))
            s[np.ix_(obs, obs)] = n_g * scatter_g
            mu = np.zeros(p)
            mu[obs] = mean_g
            observed.append(o)
            count.append(n_g)
            scatter.append(s)
            mean.append(mu)
    count = np.array(count)
    return PatternMoments(np.array(observed), count, count, np.array(scatter), np.array(mean))
