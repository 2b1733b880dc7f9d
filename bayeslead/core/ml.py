"""Maximum likelihood for covariance structures (complete data), in numpy.

The discrepancy is lavaan's ``F_ML = log|Sigma| + tr(S Sigma^-1) - log|S| - p`` with S the
divisor-N sample covariance; it is minimised by Fisher scoring (Newton steps with the expected
information and a backtracking line search) to a tight tolerance, so the solution matches
lavaan's to many more digits than the reporting tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeslead.core.partable import ParameterTable


@dataclass(frozen=True)
class Solution:
    theta: np.ndarray
    fmin: float
    iterations: int
    converged: bool
    max_gradient: float
    message: str = ""


def f_ml(sigma: np.ndarray, cov: np.ndarray) -> float:
    """lavaan's ML discrepancy; +inf when Sigma is not positive definite."""
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return np.inf
    logdet = 2.0 * np.sum(np.log(np.diag(chol)))
    inv_chol = np.linalg.inv(chol)
    trace = float(np.sum((inv_chol @ cov) * inv_chol))
    _, logdet_s = np.linalg.slogdet(cov)
    return float(logdet + trace - logdet_s - cov.shape[0])


def gradient_and_information(
    table: ParameterTable, theta: np.ndarray, cov: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of F_ML and the unit expected information (per observation)."""
    sigma, d = table.sigma_jacobian(theta)
    q, p = d.shape[0], d.shape[1]
    inv = np.linalg.inv(sigma)
    w = inv @ (sigma - cov) @ inv
    grad = d.reshape(q, p * p) @ w.ravel()
    # tr(S^-1 dS_k S^-1 dS_l) = <L^-1 dS_k L^-T, L^-1 dS_l L^-T>: one matrix product
    inv_chol = np.linalg.inv(np.linalg.cholesky(sigma))
    g = (inv_chol @ d @ inv_chol.T).reshape(q, p * p)
    info = 0.5 * (g @ g.T)
    return grad, info


def expected_information(table: ParameterTable, theta: np.ndarray) -> np.ndarray:
    """Unit expected information matrix at `theta` (lavaan's `information = "expected"`)."""
    sigma = table.sigma(theta)
    _, info = gradient_and_information(table, theta, sigma)
    return info


def observed_information(table: ParameterTable, theta: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Unit observed information: half the Hessian of F_ML (central differences of the gradient)."""
    q = len(theta)
    hess = np.empty((q, q))
    for k in range(q):
        h = 1e-5 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        g_up, _ = gradient_and_information(table, up, cov)
        g_down, _ = gradient_and_information(table, down, cov)
        hess[:, k] = (g_up - g_down) / (2 * h)
    return 0.25 * (hess + hess.T)


def fit_ml(
    table: ParameterTable,
    cov: np.ndarray,
    start: np.ndarray,
    max_iter: int = 500,
    tol: float = 1e-10,
    step_tol: float = 1e-9,
) -> Solution:
    """Minimise F_ML from `start` by Fisher scoring with backtracking.

    Converged when the largest step is below `step_tol` (relative to the largest parameter),
    or when F_ML changes by less than `tol` with a gradient below 1e-6.
    """
    theta = np.array(start, dtype=float)
    f_now = f_ml(table.sigma(theta), cov)
    if not np.isfinite(f_now):
        return Solution(
            theta, f_now, 0, False, np.inf, "start values give a non-positive-definite Sigma"
        )
    grad = np.full_like(theta, np.inf)
    for iteration in range(1, max_iter + 1):
        grad, info = gradient_and_information(table, theta, cov)
        try:
            step = np.linalg.solve(2.0 * info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(2.0 * info, grad, rcond=None)[0]
        t = 1.0
        while True:
            candidate = theta - t * step
            f_new = f_ml(table.sigma(candidate), cov)
            if np.isfinite(f_new) and f_new <= f_now + 1e-4 * t * float(grad @ -step):
                break
            t /= 2.0
            if t < 1e-10:
                return Solution(
                    theta,
                    f_now,
                    iteration,
                    False,
                    float(np.max(np.abs(grad))),
                    "line search failed",
                )
        change = f_now - f_new
        theta, f_now = candidate, f_new
        if np.max(np.abs(t * step)) < step_tol * max(1.0, np.max(np.abs(theta))) or (
            0 <= change < tol * max(1.0, abs(f_now)) and np.max(np.abs(grad)) < 1e-6
        ):
            grad, _ = gradient_and_information(table, theta, cov)
            return Solution(theta, f_now, iteration, True, float(np.max(np.abs(grad))))
    return Solution(
        theta, f_now, max_iter, False, float(np.max(np.abs(grad))), "iteration limit reached"
    )
