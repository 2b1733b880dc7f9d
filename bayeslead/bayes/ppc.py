"""Posterior predictive quantities in numpy: blavaan's chi-square PPP and pointwise
log-likelihoods (for PSIS-LOO) of the continuous model.

PPP (posterior predictive p-value of the likelihood-ratio discrepancy, as blavaan defines it):
for each posterior draw, the chi-square discrepancy N F_ML(S, Sigma) of the observed data is
compared with that of a replicated data set of the same size drawn from the model; PPP is the
share of draws whose replicated discrepancy is at least the observed one (about 0.5 for a model
that fits, small values signal misfit). Replicated scatter matrices are drawn from their exact
Wishart distribution, so no replicated respondents are needed.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def f_ml(cov: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """lavaan's ML discrepancy for stacks of Sigma (..., p, p) and S (..., p, p)."""
    p = cov.shape[-1]
    _, logdet_sigma = np.linalg.slogdet(sigma)
    _, logdet_cov = np.linalg.slogdet(cov)
    trace = np.trace(np.linalg.solve(sigma, cov), axis1=-2, axis2=-1)
    return logdet_sigma + trace - logdet_cov - p


def chisq_ppp(
    sigma: np.ndarray, scatter: np.ndarray, n: int, rng: np.random.Generator, max_draws: int = 1000
) -> dict[str, float]:
    """PPP of the chi-square discrepancy from draws of Sigma (draws, p, p) and the observed
    scatter matrix about the mean (divisor 1) of N complete respondents."""
    take = rng.choice(len(sigma), size=min(max_draws, len(sigma)), replace=False)
    sigma = sigma[np.sort(take)]
    observed = n * f_ml(np.broadcast_to(scatter / n, sigma.shape), sigma)
    replicated = np.stack(
        [stats.wishart.rvs(df=n - 1, scale=s, random_state=rng) / n for s in sigma]
    )
    discrepancy = n * f_ml(replicated, sigma)
    return {
        "ppp": float(np.mean(discrepancy >= observed)),
        "chisq_observed_mean": float(observed.mean()),
        "chisq_replicated_mean": float(discrepancy.mean()),
    }


def pointwise_loglik(z: np.ndarray, sigma: np.ndarray, mu: np.ndarray | None = None) -> np.ndarray:
    """Log-density of each respondent (rows of z, NaN = missing) under each draw.

    `sigma` is (draws, p, p); `mu` (draws, p) or None for the sample means (the means are
    integrated out of the complete-data model). Returns (draws, N). Rows with missing values
    use the marginal density of their observed items.
    """
    draws = sigma.shape[0]
    n, p = z.shape
    if mu is None:
        mu = np.broadcast_to(np.nanmean(z, axis=0), (draws, p))
    out = np.empty((draws, n))
    observed = ~np.isnan(z)
    patterns, index = np.unique(observed, axis=0, return_inverse=True)
    for g, pattern in enumerate(patterns):
        rows = np.flatnonzero(np.ravel(index) == g)
        obs = np.flatnonzero(pattern)
        if obs.size == 0:
            out[:, rows] = 0.0
            continue
        sub = sigma[:, obs][:, :, obs]
        chol = np.linalg.cholesky(sub)
        diff = z[np.ix_(rows, obs)][None, :, :] - mu[:, None, obs]  # (draws, rows, k)
        solved = np.linalg.solve(chol, np.swapaxes(diff, 1, 2))  # (draws, k, rows)
        logdet = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        out[:, rows] = -0.5 * (
            obs.size * np.log(2 * np.pi) + logdet[:, None] + np.sum(solved**2, axis=1)
        )
    return out
