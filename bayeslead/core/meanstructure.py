"""lavaan's mean structure of a single-level model with ``~ 1`` rows: every manifest variable
has a free intercept and every construct's intercept is 0 (lavaan's default meanstructure).

Such a mean structure is saturated, so the implied means of the manifest variables are their
means mu, and the intercepts solve ``mu = F (I - A)^-1 alpha`` with alpha 0 at the constructs:
``alpha = T_mm^-1 mu`` with T_mm the manifest block of ``(I - A)^-1``. An item of a construct
that nothing observed predicts has intercept mu; an item of a construct regressed on an observed
variable x has ``mu - lambda b mean(x)`` (lavaan's). Like the rest of the core, the functions
accept one parameter vector or a batch (posterior draws) with parameters last.
"""

from __future__ import annotations

import numpy as np

from bayeslead.core.partable import ParameterTable


def manifest_intercepts(table: ParameterTable, theta: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Intercepts (..., p) of the manifest variables whose means are `means` (..., p)."""
    a, _ = table.matrices(theta)
    total = np.linalg.inv(np.eye(a.shape[-1]) - a)
    p = table.n_manifest
    return np.linalg.solve(total[..., :p, :p], means[..., None])[..., 0]


def conditional_means(
    mean: np.ndarray,
    sigma: np.ndarray,
    n: int,
    fixed: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draws of the manifest means given each covariance draw `sigma` (k, p, p) under a flat
    prior on the means: ``mu | Sigma ~ N(mean, Sigma / n)``, the exact conditional posterior of
    complete data, with the means of the `fixed` variables (a boolean mask: exogenous observed
    variables, lavaan's fixed.x) held at their sample values and the others drawn given them."""
    k, p = sigma.shape[0], len(mean)
    out = np.broadcast_to(mean, (k, p)).copy()
    free = ~fixed
    if not free.any():
        return out
    s_ff = sigma[:, free][:, :, free]
    if fixed.any():
        s_fx = sigma[:, free][:, :, fixed]
        s_xx = sigma[:, fixed][:, :, fixed]
        s_ff = s_ff - s_fx @ np.linalg.solve(s_xx, np.swapaxes(s_fx, -1, -2))
    chol = np.linalg.cholesky(s_ff / n)
    out[:, free] += (chol @ rng.standard_normal((k, int(free.sum()), 1)))[..., 0]
    return out


def intercept_errors(
    table: ParameterTable, theta: np.ndarray, means: np.ndarray, cov_joint: np.ndarray
) -> np.ndarray:
    """Delta-method standard errors of `manifest_intercepts` at the ML estimates, given the
    covariance `cov_joint` (q + p, q + p) of (theta, means): through ``alpha = T_mm^-1 mu``
    and its derivative in theta (central differences)."""
    p = table.n_manifest
    a, _ = table.matrices(theta)
    inverse = np.linalg.inv(np.linalg.inv(np.eye(a.shape[-1]) - a)[:p, :p])
    step = 1e-6 * np.maximum(np.abs(theta), 1.0)
    shifts = np.diag(step)
    jacobian = (
        manifest_intercepts(table, theta + shifts, means)
        - manifest_intercepts(table, theta - shifts, means)
    ) / (2.0 * step[:, None])
    jacobian = np.concatenate([jacobian, inverse.T])  # (q + p, p)
    return np.sqrt(np.clip(np.diag(jacobian.T @ cov_joint @ jacobian), 0.0, None))


def saturated_covariance(
    table: ParameterTable, theta: np.ndarray, cov_theta: np.ndarray, n: int, fixed: np.ndarray
) -> np.ndarray:
    """Covariance of (theta, sample means) on complete data: the means' ``Sigma / n`` (zero
    for the `fixed` means, lavaan's fixed.x) is independent of the covariance parameters."""
    q, p = len(theta), table.n_manifest
    cov_means = table.sigma(theta) / n
    cov_means[fixed, :] = 0.0
    cov_means[:, fixed] = 0.0
    out = np.zeros((q + p, q + p))
    out[:q, :q], out[q:, q:] = cov_theta, cov_means
    return out
