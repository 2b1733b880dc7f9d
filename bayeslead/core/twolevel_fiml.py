"""The saturated (h1) two-level model of data with blank answers, by full-information ML.

lavaan 0.6-14 with ``missing = "ml"`` and a cluster variable fits its h1 as an unrestricted
model (``lav_partable_unrestricted_chol``) to the observed values: Sigma_W over the level-1
variables, Sigma_B over the level-2 variables (between-only variables and the between parts of
level-1 variables; within-only variables have none) and their means. Cluster j's observed
values, stacked as [z_j; y_1j; ...; y_nj] with the blank ones left out, are normal with mean
``T mu`` and covariance ``T Sigma_B~ T' + (I_n (x) Sigma_W)`` restricted to the observed
entries (T places the level-2 order in the stack, Sigma_B~ is Sigma_B padded with the zero
between parts of within-only variables). The log-likelihood is the sum over clusters of these
normal densities; it is maximised over Cholesky factors of both covariances (L-BFGS with the
analytic gradient). lavaan's level-1 intercepts of variables with a between part are fixed at
their observed means (its start values), so its level-2 means are the ML means less those.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize
from threadpoolctl import threadpool_limits

from bayeslead.core.twolevel_ml import LOG2PI


@dataclass(frozen=True)
class ObservedCluster:
    """One cluster's observed values and where they sit."""

    values: np.ndarray  # (o,) the observed entries of [z_j; y_1j; ...; y_nj]
    place: np.ndarray  # (o, pz + py) T restricted to the observed entries
    item: np.ndarray  # (o, py) one-hot level-1 variable of each entry (zero rows for z)
    same_row: np.ndarray  # (o, o) 1 where two level-1 entries belong to one respondent


@dataclass(frozen=True)
class SaturatedFit:
    """The h1 moments: Sigma_W (level-1 order), Sigma_B and mu (tilde order: between-only,
    then level-1 variables; within-only variables' between parts are zero), lavaan's within
    means (level-1 order), the log-likelihood and the optimiser's iterations."""

    sigma_w: np.ndarray
    sigma_b: np.ndarray
    mu: np.ndarray
    mu_w: np.ndarray
    loglik: float
    iterations: int


def observed_clusters(y: np.ndarray, z: np.ndarray, clusters: np.ndarray) -> list[ObservedCluster]:
    """Each cluster's observed entries of level-1 columns `y` (N x py, NaN = blank) and
    between-only columns `z` (N x pz, constant within a cluster; its first observed value)."""
    pz, py = z.shape[1], y.shape[1]
    out = []
    for label in np.unique(clusters):
        rows = np.flatnonzero(clusters == label)
        zj = np.full(pz, np.nan)
        for k in range(pz):
            seen = z[rows, k][~np.isnan(z[rows, k])]
            zj[k] = seen[0] if len(seen) else np.nan
        stack = np.concatenate([zj, y[rows].ravel()])
        n = len(rows)
        place = np.zeros((pz + n * py, pz + py))
        place[np.arange(pz), np.arange(pz)] = 1.0
        place[pz + np.arange(n * py), pz + np.tile(np.arange(py), n)] = 1.0
        item = np.zeros((pz + n * py, py))
        item[pz:] = place[pz:, pz:]
        row = np.concatenate([np.full(pz, -1), np.repeat(np.arange(n), py)])
        seen = ~np.isnan(stack)
        same = (row[seen][:, None] == row[seen][None, :]) & (row[seen][:, None] >= 0)
        out.append(ObservedCluster(stack[seen], place[seen], item[seen], same.astype(float)))
    return out


def saturated_loglik(
    clusters: list[ObservedCluster], sigma_w: np.ndarray, sigma_b: np.ndarray, mu: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The log-likelihood of the observed values and its gradients with respect to Sigma_W,
    the padded Sigma_B~ and mu (each entry of a symmetric matrix taken as its own argument);
    -inf when a cluster's covariance is not positive definite."""
    total = 0.0
    g_w, g_b, g_mu = np.zeros_like(sigma_w), np.zeros_like(sigma_b), np.zeros_like(mu)
    for c in clusters:
        v = c.place @ sigma_b @ c.place.T + (c.item @ sigma_w @ c.item.T) * c.same_row
        try:
            factor = linalg.cho_factor(v, lower=True)
        except linalg.LinAlgError:
            return -np.inf, g_w, g_b, g_mu
        r = c.values - c.place @ mu
        a = linalg.cho_solve(factor, r)
        inv = linalg.cho_solve(factor, np.eye(len(r)))
        total -= 0.5 * (2 * np.sum(np.log(np.diag(factor[0]))) + r @ a + len(r) * LOG2PI)
        g = 0.5 * (np.outer(a, a) - inv)
        g_b += c.place.T @ g @ c.place
        g_w += c.item.T @ (g * c.same_row) @ c.item
        g_mu += c.place.T @ a
    return total, g_w, g_b, g_mu


def fit_saturated(
    y: np.ndarray,
    z: np.ndarray,
    clusters: np.ndarray,
    within_only: np.ndarray,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    gtol: float = 1e-9,
) -> SaturatedFit:
    """The h1 of level-1 columns `y` (NaN = blank) and between-only columns `z` of respondents
    in `clusters`; `within_only` (py,) marks level-1 variables without a between part; `start`
    (Sigma_W, Sigma_B~), else the pooled within covariance of the observed values and a tenth
    of the identity."""
    pz, py = z.shape[1], y.shape[1]
    data = observed_clusters(y, z, clusters)
    between = np.concatenate([np.ones(pz, bool), ~np.asarray(within_only, bool)])
    nb = int(between.sum())
    mean_y = np.nanmean(y, axis=0)
    mean_z = np.nanmean(z, axis=0) if pz else np.zeros(0)
    if start is None:
        centred = y - np.array([np.nanmean(y[clusters == c], axis=0) for c in clusters])
        sigma_w = np.diag(np.nanvar(centred, axis=0))
        sigma_b = 0.1 * np.diag(between.astype(float))
    else:
        sigma_w, sigma_b = start
    low_w, low_b = np.tril_indices(py), np.tril_indices(nb)
    chol_b = np.linalg.cholesky(sigma_b[np.ix_(between, between)] + 1e-8 * np.eye(nb))
    x0 = np.concatenate([mean_z, mean_y, np.linalg.cholesky(sigma_w)[low_w], chol_b[low_b]])
    m = pz + py

    def unpack(x):
        lw = np.zeros((py, py))
        lw[low_w] = x[m : m + len(low_w[0])]
        lb = np.zeros((nb, nb))
        lb[low_b] = x[m + len(low_w[0]) :]
        padded = np.zeros((m, m))
        padded[np.ix_(between, between)] = lb @ lb.T
        return x[:m], lw, lb, padded

    def objective(x):
        mu, lw, lb, padded = unpack(x)
        value, g_w, g_b, g_mu = saturated_loglik(data, lw @ lw.T, padded, mu)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(x)
        d_lw = (2 * g_w @ lw)[low_w]
        d_lb = (2 * g_b[np.ix_(between, between)] @ lb)[low_b]
        return -value, -np.concatenate([g_mu, d_lw, d_lb])

    with threadpool_limits(limits=1):  # small matrices: threads only add overhead
        result = optimize.minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            options={"gtol": gtol, "ftol": 1e-15, "maxiter": 5000},
        )
    mu, lw, _, padded = unpack(result.x)
    mu_w = np.where(between[pz:], mean_y, mu[pz:])
    return SaturatedFit(lw @ lw.T, padded, mu, mu_w, -float(result.fun), int(result.nit))
