"""Full-information ML with missing responses (lavaan's ``missing = "ml"``).

Rows are grouped by missing-data pattern and patterns with the same number of observed
variables are stacked, so one evaluation of the likelihood and its analytic gradient is a few
batched linear-algebra calls whatever the number of respondents. The free parameters are the
covariance-structure parameters followed by one intercept per manifest variable. Estimation
starts from the two-stage solution (EM saturated moments, then complete-data ML) and finishes
with L-BFGS on the exact likelihood; standard errors use the observed information (lavaan's
default with missing data); chi-square compares with the EM saturated model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from bayeslead.partable import ParameterTable
from bayeslead.sem.fitmeasures import chisq_fit
from bayeslead.sem.ml import Solution, fit_ml

LOG2PI = np.log(2 * np.pi)


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


@dataclass(frozen=True)
class FimlResult:
    solution: Solution  # theta = covariance-structure parameters, then intercepts
    information: np.ndarray  # observed information of all of theta (total, not per unit)
    fit: dict[str, float]
    n_patterns: int


def fit_fiml(table: ParameterTable, x: np.ndarray) -> FimlResult:
    """FIML estimates, observed information and fit measures (lavaan's missing = "ml")."""
    x = x[~np.isnan(x).all(axis=1)]
    n, p = x.shape
    q = table.n_free
    groups = pattern_groups(x)
    mu1, sigma1, m2ll_h1 = em_saturated(x, groups)
    start = fit_ml(table, sigma1, table.start_values(sigma1))
    phi0 = np.concatenate([start.theta, mu1])

    def objective(phi: np.ndarray) -> tuple[float, np.ndarray]:
        sigma, d_sigma = table.sigma_jacobian(phi[:q])
        value, g_sigma, g_mu = minus2_loglik(sigma, phi[q:], groups)
        if not np.isfinite(value):
            return 1e300, np.zeros_like(phi)
        grad = np.concatenate([np.einsum("ij,kij->k", g_sigma, d_sigma), g_mu])
        return value / n, grad / n

    result = optimize.minimize(
        objective,
        phi0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 30},
    )
    phi = result.x
    value, grad = objective(phi)
    converged = bool(np.max(np.abs(grad)) < 1e-5)
    solution = Solution(
        phi, value, int(result.nit), converged, float(np.max(np.abs(grad))), str(result.message)
    )
    hessian = _numeric_hessian(objective, phi)
    information = 0.5 * n * hessian
    m2ll = value * n
    fit = _fiml_fit(x, groups, m2ll, m2ll_h1, sigma1, mu1, table, phi, q, n, p)
    return FimlResult(solution, information, fit, sum(len(g.n) for g in groups))


def _numeric_hessian(objective, phi: np.ndarray) -> np.ndarray:
    k = len(phi)
    hess = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(phi[j]))
        up, down = phi.copy(), phi.copy()
        up[j] += h
        down[j] -= h
        hess[:, j] = (objective(up)[1] - objective(down)[1]) / (2 * h)
    return 0.5 * (hess + hess.T)


def _fiml_fit(x, groups, m2ll, m2ll_h1, sigma1, mu1, table, phi, q, n, p) -> dict[str, float]:
    """Fit measures against the EM saturated model, as lavaan reports them with missing = "ml"."""
    chisq = max(m2ll - m2ll_h1, 0.0)
    moments = p * (p + 1) // 2
    df = moments - q
    base = 0.0
    for j in range(p):
        col = x[:, j][~np.isnan(x[:, j])]
        base += np.sum(-2 * _normal_loglik(col, col.mean(), col.var()))
    chisq_base = base - m2ll_h1
    out = {"npar": float(q + p), "chisq": float(chisq), "df": float(df)}
    out |= chisq_fit(chisq, df, chisq_base, moments - p, n)
    sigma = table.sigma(phi[:q])
    sd = np.sqrt(np.diag(sigma1))
    resid = (sigma1 - sigma) / np.outer(sd, sd)
    rows, cols = np.tril_indices(p)
    mean_resid = (mu1 - phi[q:]) / sd
    out["srmr"] = float(
        np.sqrt((np.sum(resid[rows, cols] ** 2) + np.sum(mean_resid**2)) / (len(rows) + p))
    )
    logl = -0.5 * m2ll
    out["logl"] = float(logl)
    out["aic"] = float(-2 * logl + 2 * (q + p))
    out["bic"] = float(-2 * logl + np.log(n) * (q + p))
    out["baseline_chisq"] = float(chisq_base)
    out["baseline_df"] = float(moments - p)
    return out


def _normal_loglik(values: np.ndarray, mean: float, var: float) -> np.ndarray:
    return -0.5 * (LOG2PI + np.log(var) + (values - mean) ** 2 / var)
