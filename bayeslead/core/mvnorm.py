"""The normal likelihood of moments, model-free (lavaan's ``lav_mvnorm*.R`` layer).

- `minus2_loglik`: the FIML -2 log-likelihood of missing-data patterns and its gradients;
- `em_saturated`: EM estimates of the unrestricted mean and covariance (the h1 model);
- `f_ml_stack`: lavaan's ML discrepancy for stacks of Sigma and S (posterior predictive checks).

Every function takes the model-implied moments first and the data's second, as `core.ml.f_ml`.
"""

from __future__ import annotations

import numpy as np

from bayeslead.data.patterns import PatternGroup

LOG2PI = np.log(2 * np.pi)


def minus2_loglik(
    sigma: np.ndarray, mu: np.ndarray, groups: list[PatternGroup], gradient: bool = True
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """-2 log-likelihood and its gradients with respect to Sigma (p x p) and mu (p)."""
    p = len(mu)
    total = 0.0
    g_sigma = np.zeros((p, p)) if gradient else None
    g_mu = np.zeros(p) if gradient else None
    for grp in groups:
        obs = grp.observed
        sub = sigma[obs[:, :, None], obs[:, None, :]]
        try:
            chol = np.linalg.cholesky(sub)
        except np.linalg.LinAlgError:
            return np.inf, None, None
        logdet = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        inv = np.linalg.inv(sub)
        d = grp.mean - mu[obs]
        t = grp.scatter + d[:, :, None] * d[:, None, :]
        k = obs.shape[1]
        total += float(np.sum(grp.n * (logdet + np.einsum("gij,gji->g", inv, t) + k * LOG2PI)))
        if gradient:
            w = inv - inv @ t @ inv
            np.add.at(g_sigma, (obs[:, :, None], obs[:, None, :]), grp.n[:, None, None] * w)
            np.add.at(g_mu, obs, -2.0 * grp.n[:, None] * np.einsum("gij,gj->gi", inv, d))
    return total, g_sigma, g_mu


def em_saturated(
    x: np.ndarray, groups: list[PatternGroup], tol: float = 1e-10, max_iter: int = 5000
) -> tuple[np.ndarray, np.ndarray, float]:
    """EM estimates of the unrestricted mean and covariance; returns (mu, sigma, -2logL)."""
    p = x.shape[1]
    mu = np.nanmean(x, axis=0)
    sigma = np.diag(np.nanvar(x, axis=0))
    n = float(sum(g.n.sum() for g in groups))
    last = np.inf
    for _ in range(max_iter):
        t1 = np.zeros(p)
        t2 = np.zeros((p, p))
        for grp in groups:
            for obs, count, mean, scatter in zip(
                grp.observed, grp.n, grp.mean, grp.scatter, strict=True
            ):
                mis = np.setdiff1d(np.arange(p), obs)
                full_mean = mu.copy()
                full_mean[obs] = mean
                second = np.zeros((p, p))
                second[np.ix_(obs, obs)] = scatter
                if mis.size:
                    coef = np.linalg.solve(sigma[np.ix_(obs, obs)], sigma[np.ix_(obs, mis)]).T
                    full_mean[mis] = mu[mis] + coef @ (mean - mu[obs])
                    cond = sigma[np.ix_(mis, mis)] - coef @ sigma[np.ix_(obs, mis)]
                    second[np.ix_(mis, obs)] = coef @ scatter
                    second[np.ix_(obs, mis)] = second[np.ix_(mis, obs)].T
                    second[np.ix_(mis, mis)] = coef @ scatter @ coef.T + cond
                t1 += count * full_mean
                t2 += count * (second + np.outer(full_mean, full_mean))
        mu = t1 / n
        sigma = t2 / n - np.outer(mu, mu)
        value, _, _ = minus2_loglik(sigma, mu, groups, gradient=False)
        if abs(last - value) < tol * max(1.0, abs(value)):
            break
        last = value
    return mu, sigma, value


def f_ml_stack(sigma: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """lavaan's ML discrepancy for stacks of Sigma (..., p, p) and S (..., p, p)."""
    p = cov.shape[-1]
    _, logdet_sigma = np.linalg.slogdet(sigma)
    _, logdet_cov = np.linalg.slogdet(cov)
    trace = np.trace(np.linalg.solve(sigma, cov), axis1=-2, axis2=-1)
    return logdet_sigma + trace - logdet_cov - p
