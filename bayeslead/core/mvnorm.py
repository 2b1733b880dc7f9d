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
    x: np.ndarray,
    groups: list[PatternGroup],
    tol: float = 1e-10,
    max_iter: int = 5000,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """EM estimates of the unrestricted mean and covariance; returns (mu, sigma, -2logL).

    `start` = (mu, sigma) to start from (default: the observed means and variances). The E-step
    is batched over the patterns of each group (patterns with the same number observed).
    """
    p = x.shape[1]
    if start is None:
        mu, sigma = np.nanmean(x, axis=0), np.diag(np.nanvar(x, axis=0))
    else:
        mu, sigma = start
    n = float(sum(g.n.sum() for g in groups))
    missing = [_missing_columns(grp.observed, p) for grp in groups]
    last = np.inf
    for _ in range(max_iter):
        t1 = np.zeros(p)
        t2 = np.zeros((p, p))
        for grp, mis in zip(groups, missing, strict=True):
            full_mean, second = _expected_moments(grp, mis, mu, sigma)
            t1 += grp.n @ full_mean
            t2 += np.einsum("g,gij->ij", grp.n, second + full_mean[:, :, None] * full_mean[:, None])
        mu = t1 / n
        sigma = t2 / n - np.outer(mu, mu)
        value, _, _ = minus2_loglik(sigma, mu, groups, gradient=False)
        if abs(last - value) < tol * max(1.0, abs(value)):
            break
        last = value
    return mu, sigma, value


def _missing_columns(observed: np.ndarray, p: int) -> np.ndarray:
    """(patterns, p - k) indices of the missing variables of each pattern."""
    mask = np.ones((observed.shape[0], p), dtype=bool)
    np.put_along_axis(mask, observed, False, axis=1)
    return np.nonzero(mask)[1].reshape(observed.shape[0], -1)


def _expected_moments(grp: PatternGroup, mis: np.ndarray, mu: np.ndarray, sigma: np.ndarray):
    """E-step of a pattern group: expected means (g, p) and second moments about them
    (g, p, p) of the complete rows given the observed ones."""
    obs = grp.observed
    g, p = obs.shape[0], len(mu)
    rows = np.arange(g)[:, None, None]
    full_mean = np.broadcast_to(mu, (g, p)).copy()
    np.put_along_axis(full_mean, obs, grp.mean, axis=1)
    second = np.zeros((g, p, p))
    second[rows, obs[:, :, None], obs[:, None, :]] = grp.scatter
    if mis.shape[1]:
        s_oo = sigma[obs[:, :, None], obs[:, None, :]]
        s_om = sigma[obs[:, :, None], mis[:, None, :]]
        coef = np.swapaxes(np.linalg.solve(s_oo, s_om), 1, 2)  # (g, m, k)
        shift = np.einsum("gmk,gk->gm", coef, grp.mean - mu[obs])
        np.put_along_axis(full_mean, mis, mu[mis] + shift, axis=1)
        cross = coef @ grp.scatter
        second[rows, mis[:, :, None], obs[:, None, :]] = cross
        second[rows, obs[:, :, None], mis[:, None, :]] = np.swapaxes(cross, 1, 2)
        cond = sigma[mis[:, :, None], mis[:, None, :]] - coef @ s_om
        second[rows, mis[:, :, None], mis[:, None, :]] = cross @ np.swapaxes(coef, 1, 2) + cond
    return full_mean, second


def f_ml_stack(sigma: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """lavaan's ML discrepancy for stacks of Sigma (..., p, p) and S (..., p, p)."""
    p = cov.shape[-1]
    _, logdet_sigma = np.linalg.slogdet(sigma)
    _, logdet_cov = np.linalg.slogdet(cov)
    trace = np.trace(np.linalg.solve(sigma, cov), axis1=-2, axis2=-1)
    return logdet_sigma + trace - logdet_cov - p
