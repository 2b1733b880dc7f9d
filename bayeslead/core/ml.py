"""Maximum likelihood for covariance structures (complete data), in numpy.

The discrepancy is lavaan's ``F_ML = log|Sigma| + tr(S Sigma^-1) - log|S| - p`` with S the
divisor-N sample covariance; it is minimised by Fisher scoring (Newton steps with the expected
information and a backtracking line search) until the gradient and the step are both small
(`GRADIENT_TOL` on lavaan's scale of the objective), so the solution matches lavaan's to many more
digits than the reporting tolerance; a fit that stops elsewhere says so (`Solution.converged`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bayeslead.core.partable import ParameterTable
from bayeslead.errors import Problem


@dataclass(frozen=True)
class Solution:
    theta: np.ndarray
    fmin: float
    iterations: int
    converged: bool
    max_gradient: float
    message: str = ""

    def record(self, info: dict[str, object], problems: list[Problem]) -> None:
        """Put convergence, iterations and max |gradient| in ``info``; a problem when the
        optimiser did not converge."""
        info["converged"] = bool(self.converged)
        info["iterations"] = int(self.iterations)
        info["max_gradient"] = float(self.max_gradient)
        if not self.converged:
            problems.append(
                Problem(
                    "estimation",
                    f"the optimiser did not converge ({self.message}; max |gradient| "
                    f"{self.max_gradient:.2g}); estimates are not trustworthy",
                )
            )


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


GRADIENT_TOL = 1e-6
"""Convergence criterion: the largest |gradient| of lavaan's objective (half F_ML; for FIML
half the -2 log-likelihood per respondent) at the solution. lavaan's NLMINB typically stops near
1e-6 and only warns above 1e-3 (``optim.dx.tol``)."""


def fit_ml(
    table: ParameterTable,
    cov: np.ndarray,
    start: np.ndarray,
    max_iter: int = 500,
    step_tol: float = 1e-9,
    gradient_tol: float = GRADIENT_TOL,
) -> Solution:
    """Minimise F_ML from `start` by Fisher scoring (see `scoring`)."""

    def value(theta: np.ndarray) -> float:
        return f_ml(table.sigma(theta), cov)

    def gradient_hessian(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad, info = gradient_and_information(table, theta, cov)
        return grad, 2.0 * info

    return scoring(value, gradient_hessian, start, max_iter, step_tol, gradient_tol)


def scoring(
    value: Callable[[np.ndarray], float],
    gradient_hessian: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    start: np.ndarray,
    max_iter: int = 500,
    step_tol: float = 1e-9,
    gradient_tol: float = GRADIENT_TOL,
) -> Solution:
    """Minimise an objective on the F_ML scale (twice lavaan's) by scoring steps H^-1 g with
    H the expected Hessian and a backtracking (Armijo) line search.

    Converged only when the largest |gradient| of lavaan's objective (half of `value`) is at most
    `gradient_tol` and the last step is below `step_tol` (relative to each parameter), so badly
    scaled parameters (variances of 1,000) are pinned down too; otherwise the solution says why
    it stopped (iteration limit, failed line search, singular information). `value` returns
    +inf where the model is not defined (a non-positive-definite implied covariance).
    """
    theta = np.array(start, dtype=float)
    with np.errstate(all="ignore"):
        f_now = value(theta)
    if not np.isfinite(f_now):
        return Solution(
            theta, f_now, 0, False, np.inf, "start values give a non-positive-definite Sigma"
        )
    grad = np.full_like(theta, np.inf)
    for iteration in range(1, max_iter + 1):
        with np.errstate(all="ignore"):
            grad, hessian = gradient_hessian(theta)
            step = _scoring_step(hessian, grad)
        if step is None:
            return _stopped(theta, f_now, iteration, grad, "singular information matrix")
        t = 1.0
        while True:
            candidate = theta - t * step
            with np.errstate(all="ignore"):
                f_new = value(candidate)
            if np.isfinite(f_new) and f_new <= f_now + 1e-4 * t * float(grad @ -step):
                break
            t /= 2.0
            if t < 1e-10:
                # no decrease within rounding of the objective: converged if the step is tiny
                converged = _small(grad, step, theta, max(step_tol, 1e-6), gradient_tol)
                return _stopped(theta, f_now, iteration, grad, "line search failed", converged)
        theta, f_now = candidate, f_new
        if _small(grad, t * step, theta, step_tol, gradient_tol):
            with np.errstate(all="ignore"):
                grad, _ = gradient_hessian(theta)
            converged = bool(0.5 * np.max(np.abs(grad)) <= gradient_tol)
            return _stopped(theta, f_now, iteration, grad, "", converged)
    return _stopped(theta, f_now, max_iter, grad, "iteration limit reached")


def _scoring_step(hessian: np.ndarray, grad: np.ndarray) -> np.ndarray | None:
    """The scoring step H^-1 g, or None when H is singular or not finite."""
    if not (np.all(np.isfinite(hessian)) and np.all(np.isfinite(grad))):
        return None
    try:
        step = np.linalg.solve(hessian, grad)
    except np.linalg.LinAlgError:
        return None
    return step if np.all(np.isfinite(step)) else None


def _small(grad, step, theta, step_tol, gradient_tol) -> bool:
    """The gradient of lavaan's objective and the step (relative to each parameter) are small."""
    return bool(
        0.5 * np.max(np.abs(grad)) <= gradient_tol
        and np.all(np.abs(step) <= step_tol * np.maximum(1.0, np.abs(theta)))
    )


def _stopped(theta, f_now, iteration, grad, message, converged=False) -> Solution:
    """A Solution; its max_gradient is on lavaan's scale (half the gradient of the objective)."""
    max_gradient = float(0.5 * np.max(np.abs(grad))) if np.all(np.isfinite(grad)) else np.inf
    return Solution(theta, f_now, iteration, converged, max_gradient, message)


def positive_definite_start(table: ParameterTable, theta: np.ndarray) -> np.ndarray:
    """`theta` with its covariances shrunk towards zero until the implied covariance of every
    variable is positive definite (free variances raised to at least 1e-2); fixed values kept."""
    theta = np.array(theta, dtype=float)
    free = table.free_params
    for p in free:
        if p.matrix == "S" and p.row == p.col:
            theta[p.free] = max(theta[p.free], 1e-2)
    off = [p.free for p in free if p.matrix == "S" and p.row != p.col]
    for _ in range(60):
        with np.errstate(all="ignore"):
            _, s = table.matrices(theta)
            ok = np.all(np.isfinite(s))
            try:
                np.linalg.cholesky(s)
            except np.linalg.LinAlgError:
                ok = False
        if ok or not off:
            return theta
        theta[off] *= 0.5
    theta[off] = 0.0
    return theta
