"""Multi-group maximum likelihood with a mean structure, complete or missing data (FIML).

Each group's rows are stacked by missing-data pattern (`bayeslead.data.patterns`; complete data
is one pattern), and the objective is lavaan's ``F = sum_g (-2 logL_g - -2 logL_g(h1)) / N``
over the groups (N respondents in all), so chi-square = N F. The saturated h1 model of a group
is its sample means and covariance (divisor n), or their EM estimates when responses are
missing. It is minimised by scoring steps (`core.ml.scoring`) with the complete-data expected
information ``sum_g n_g/N K_g' I_g K_g`` as the metric (`K_g` takes global parameters to group
g's, `I_g` = 1/2 tr(S^-1 dS S^-1 dS) + dmu' S^-1 dmu): exact scoring on complete data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeslead.core.groups import GroupTable, start_values
from bayeslead.core.ml import Solution, scoring
from bayeslead.core.mvnorm import em_saturated, minus2_loglik
from bayeslead.data.patterns import PatternGroup, pattern_groups


@dataclass(frozen=True)
class GroupSample:
    """One group's responses by missing-data pattern and its saturated (h1) moments."""

    x: np.ndarray  # the rows with at least one answer (NaN = missing)
    patterns: list[PatternGroup]
    mean: np.ndarray
    cov: np.ndarray
    m2ll_h1: float

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def complete(self) -> bool:
        return not np.isnan(self.x).any()


def group_sample(x: np.ndarray) -> GroupSample:
    """Patterns and h1 moments of one group's responses (sample moments, or EM with blanks)."""
    x = x[~np.isnan(x).all(axis=1)]
    patterns = pattern_groups(x)
    if np.isnan(x).any():
        mean, cov, m2ll = em_saturated(x, patterns)
    else:
        mean, cov = x.mean(axis=0), np.cov(x.T, bias=True)
        m2ll = minus2_loglik(cov, mean, patterns, gradient=False)[0]
    return GroupSample(x, patterns, mean, cov, float(m2ll))


def group_minus2_loglik(table: GroupTable, x: np.ndarray, samples: list[GroupSample]) -> np.ndarray:
    """-2 log-likelihood of every group at global parameters `x` (inf where not defined)."""
    out = []
    for g, sample in enumerate(samples):
        sigma, mu = table.moments(table.local(x, g))
        out.append(minus2_loglik(sigma, mu, sample.patterns, gradient=False)[0])
    return np.array(out)


def objective(table: GroupTable, samples: list[GroupSample]):
    """F(x) = sum_g (-2logL_g - -2logL_g(h1)) / N and its gradient, as one function."""
    n = sum(s.n for s in samples)
    h1 = sum(s.m2ll_h1 for s in samples)
    expansions = [table.expansion(g) for g in range(table.n_groups)]

    def value_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = -h1, np.zeros(table.n_free)
        for g, sample in enumerate(samples):
            sigma, mu, d_sigma, d_mu = table.jacobian(table.local(x, g))
            value, g_sigma, g_mu = minus2_loglik(sigma, mu, sample.patterns)
            if not np.isfinite(value):
                return np.inf, grad
            total += value
            local = np.einsum("ij,kij->k", g_sigma, d_sigma) + d_mu @ g_mu
            grad += expansions[g].T @ local
        return total / n, grad / n

    return value_gradient


def unit_information(table: GroupTable, phi: np.ndarray) -> np.ndarray:
    """One group's expected information per respondent for its local parameters `phi`."""
    sigma, _, d_sigma, d_mu = table.jacobian(phi)
    inv_chol = np.linalg.inv(np.linalg.cholesky(sigma))
    size, p = d_sigma.shape[0], sigma.shape[0]
    g = (inv_chol @ d_sigma @ inv_chol.T).reshape(size, p * p)
    white = d_mu @ inv_chol.T
    return 0.5 * (g @ g.T) + white @ white.T


def expected_information(
    table: GroupTable, x: np.ndarray, samples: list[GroupSample]
) -> np.ndarray:
    """Total expected information of the global parameters, sum_g n_g K_g' I_g K_g."""
    info = np.zeros((table.n_free, table.n_free))
    for g, sample in enumerate(samples):
        k = table.expansion(g)
        info += sample.n * (k.T @ unit_information(table, table.local(x, g)) @ k)
    return info


def observed_information(
    table: GroupTable, x: np.ndarray, samples: list[GroupSample]
) -> np.ndarray:
    """Total observed information: half the Hessian of -2 logL (central differences of the
    analytic gradient), lavaan's default with missing data."""
    n = sum(s.n for s in samples)
    f = objective(table, samples)
    hess = np.empty((len(x), len(x)))
    for k in range(len(x)):
        h = 1e-5 * max(1.0, abs(x[k]))
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        hess[:, k] = (f(up)[1] - f(down)[1]) / (2 * h)
    return 0.25 * n * (hess + hess.T)


def fit_groups(
    table: GroupTable, samples: list[GroupSample], start: np.ndarray | None = None
) -> Solution:
    """ML (FIML with blanks) estimates of the global parameters, from simple starts."""
    if start is None:
        start = start_values(table, [s.cov for s in samples], [s.mean for s in samples])
    n = sum(s.n for s in samples)
    f = objective(table, samples)

    h1 = sum(s.m2ll_h1 for s in samples)

    def value(x: np.ndarray) -> float:
        return float((group_minus2_loglik(table, x, samples).sum() - h1) / n)

    def gradient_hessian(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return f(x)[1], 2.0 * expected_information(table, x, samples) / n

    return scoring(value, gradient_hessian, start)
