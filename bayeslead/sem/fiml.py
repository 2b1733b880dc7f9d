"""Full-information ML with missing responses (lavaan's ``missing = "ml"``).

Rows are grouped by missing-data pattern and patterns with the same number of observed
variables are stacked, so one evaluation of the likelihood and its analytic gradient is a few
batched linear-algebra calls whatever the number of respondents. The free parameters are the
covariance-structure parameters followed by one intercept per manifest variable. Estimation
starts from the two-stage solution (EM saturated moments, then complete-data ML) and finishes
with scoring steps on the exact likelihood (the complete-data expected information as the
metric, a line search, stopped on the gradient: `core.ml.scoring`); standard errors use the observed information (lavaan's
default with missing data); chi-square compares with the EM saturated model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeslead.core.ml import (
    Solution,
    expected_information,
    fit_ml,
    positive_definite_start,
    scoring,
)
from bayeslead.core.mvnorm import LOG2PI, em_saturated, minus2_loglik
from bayeslead.core.partable import ParameterTable
from bayeslead.data.patterns import pattern_groups
from bayeslead.sem.fitmeasures import chisq_fit


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
    phi0 = np.concatenate([positive_definite_start(table, start.theta), mu1])

    objective = fiml_objective(table, groups, n)

    def value(phi: np.ndarray) -> float:
        return minus2_loglik(table.sigma(phi[:q]), phi[q:], groups, gradient=False)[0] / n

    def gradient_hessian(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # the complete-data expected information: exact scoring steps without missing values,
        # shorter ones with them (linear convergence at the rate of the missing information)
        hessian = np.zeros((q + p, q + p))
        hessian[:q, :q] = 2.0 * expected_information(table, phi[:q])
        hessian[q:, q:] = 2.0 * np.linalg.inv(table.sigma(phi[:q]))
        return objective(phi)[1], hessian

    solution = scoring(value, gradient_hessian, phi0)
    phi = solution.theta
    value_at = objective(phi)[0]
    hessian = _numeric_hessian(objective, phi)
    information = 0.5 * n * hessian
    m2ll = value_at * n
    fit = _fiml_fit(x, groups, m2ll, m2ll_h1, sigma1, mu1, table, phi, q, n, p)
    return FimlResult(solution, information, fit, sum(len(g.n) for g in groups))


def fiml_objective(table: ParameterTable, groups: list, n: int):
    """The FIML -2 log-likelihood / n of the pattern groups and its gradient, as a function of
    phi = (covariance-structure parameters, intercepts)."""
    q = table.n_free

    def objective(phi: np.ndarray) -> tuple[float, np.ndarray]:
        sigma, d_sigma = table.sigma_jacobian(phi[:q])
        value, g_sigma, g_mu = minus2_loglik(sigma, phi[q:], groups)
        if not np.isfinite(value):
            return 1e300, np.zeros_like(phi)
        grad = np.concatenate([np.einsum("ij,kij->k", g_sigma, d_sigma), g_mu])
        return value / n, grad / n

    return objective


def refit_fiml(
    table: ParameterTable,
    x: np.ndarray,
    phi0: np.ndarray,
    inverse_hessian: np.ndarray,
    gtol: float = 1e-6,
    max_iter: int = 200,
) -> np.ndarray | None:
    """FIML estimates phi of the rows `x` (a bootstrap replicate) from the full-sample `phi0`,
    or None when max |gradient| of -2logL / n does not fall below `gtol`.

    Quasi-Newton (BFGS) steps starting from the full-sample inverse Hessian of -2logL / n,
    halved while they do not decrease the objective: a replicate's curvature is close to the
    sample's, so this takes about 10 gradient evaluations (L-BFGS from scratch: about 30 and
    10x the time). No standard errors, no fit measures.
    """
    x = x[~np.isnan(x).all(axis=1)]
    objective = fiml_objective(table, pattern_groups(x), x.shape[0])
    phi, h_inv, eye = phi0, inverse_hessian.copy(), np.eye(len(phi0))
    value, grad = objective(phi)
    for _ in range(max_iter):
        if np.max(np.abs(grad)) < gtol:
            return phi
        step, scale = h_inv @ grad, 1.0
        while True:
            trial = phi - scale * step
            new_value, new_grad = objective(trial)
            if new_value <= value or scale < 1e-4:
                break
            scale /= 2
        if new_value > value:
            return None
        s, y = trial - phi, new_grad - grad
        if y @ s > 1e-12:  # BFGS update of the inverse Hessian
            rho = 1.0 / (y @ s)
            left = eye - rho * np.outer(s, y)
            h_inv = left @ h_inv @ left.T + rho * np.outer(s, s)
        phi, value, grad = trial, new_value, new_grad
    return None


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
