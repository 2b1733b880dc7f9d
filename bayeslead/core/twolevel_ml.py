"""The two-level normal likelihood of random-intercept models (lavaan's ``lav_mvnorm_cluster``).

Level-1 variables y (items and within-only observed variables) split into a within part with
covariance Sigma_W and a between part; level-2 variables (the items' between parts and
between-only observed variables z, constant within a cluster) have covariance Sigma_B. With
complete data, cluster j of size n_j contributes its n_j - 1 within contrasts and the joint
distribution of (z_j, ybar_j), whose covariance is ``V_j = E Sigma_B E' + F Sigma_W F' / n_j``
(E places the level-2 variables, F the level-1 variables in the order [z; y]). lavaan's
-2 log-likelihood without the 2 pi constant is

    sum_j [log|V_j| + p_y log n_j + (m_j - mu)' V_j^-1 (m_j - mu)]
        + (N - G) [log|Sigma_W| + tr(Sigma_W^-1 S_PW)],

with S_PW the pooled within covariance (divisor N - G); clusters of the same size share their
V_j, so the sum runs over cluster sizes with the mean and covariance of their cluster means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class ClusterStats:
    """Sufficient statistics of complete two-level data.

    `means[k]` and `covs[k]` are the mean and covariance (divisor count) of the [z; y] cluster
    means of the clusters of size `sizes[k]` (`counts[k]` of them).
    """

    level1: tuple[str, ...]
    between_only: tuple[str, ...]
    n: int
    n_clusters: int
    s_pw: np.ndarray
    sizes: np.ndarray
    counts: np.ndarray
    means: np.ndarray  # (sizes, pz + py)
    covs: np.ndarray  # (sizes, pz + py, pz + py)
    s_total: np.ndarray  # level-1 covariance, divisor N (lavaan's fixed.x values)
    mean_total: np.ndarray  # level-1 means
    s_between_only: np.ndarray  # covariance of z over clusters, divisor G
    mean_between_only: np.ndarray
    cluster_means: np.ndarray  # (G, pz + py) in [z; y] order
    cluster_sizes: np.ndarray  # (G,)

    @property
    def tilde(self) -> tuple[str, ...]:
        """The order of the between part: between-only variables, then level-1 variables."""
        return self.between_only + self.level1


def cluster_stats(
    y: np.ndarray,
    z: np.ndarray,
    clusters: np.ndarray,
    level1: tuple[str, ...],
    between_only: tuple[str, ...],
) -> ClusterStats:
    """Statistics of level-1 columns `y` (N x py) and between-only columns `z` (N x pz, constant
    within clusters) of respondents in `clusters`."""
    labels, index = np.unique(clusters, return_inverse=True)
    g, n = len(labels), len(y)
    size = np.bincount(index)
    ybar = np.zeros((g, y.shape[1]))
    np.add.at(ybar, index, y)
    ybar /= size[:, None]
    zbar = np.zeros((g, z.shape[1]))
    np.add.at(zbar, index, z)
    zbar /= size[:, None]
    centred = y - ybar[index]
    s_pw = centred.T @ centred / (n - g)
    both = np.hstack([zbar, ybar])
    sizes, counts = np.unique(size, return_counts=True)
    means = np.stack([both[size == s].mean(axis=0) for s in sizes])
    covs = np.stack(
        [np.cov(both[size == s].T, bias=True).reshape(both.shape[1], -1) for s in sizes]
    )
    return ClusterStats(
        level1=tuple(level1),
        between_only=tuple(between_only),
        n=n,
        n_clusters=g,
        s_pw=s_pw,
        sizes=sizes,
        counts=counts,
        means=means,
        covs=covs,
        s_total=covariance(y),
        mean_total=y.mean(axis=0),
        s_between_only=covariance(zbar),
        mean_between_only=zbar.mean(axis=0),
        cluster_means=both,
        cluster_sizes=size,
    )


def covariance(x: np.ndarray) -> np.ndarray:
    """Covariance of the rows of `x` (divisor n), (p, p) also for p = 0 or 1 and one row."""
    centred = x - x.mean(axis=0)
    return centred.T @ centred / len(x)


def placement(stats: ClusterStats, level2: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Matrices E (tilde x level-2) and F (tilde x level-1) placing each level's variables in
    the [z; y] order of the cluster means."""
    tilde = stats.tilde
    e = np.zeros((len(tilde), len(level2)))
    for k, name in enumerate(level2):
        e[tilde.index(name), k] = 1.0
    f = np.zeros((len(tilde), len(stats.level1)))
    f[len(stats.between_only) + np.arange(len(stats.level1)), np.arange(len(stats.level1))] = 1
    return e, f


def minus2_loglik(
    stats: ClusterStats,
    sigma_w: np.ndarray,
    sigma_b: np.ndarray,
    mu: np.ndarray,
    e: np.ndarray,
    f: np.ndarray,
    gradient: bool = True,
) -> tuple[float, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """lavaan's -2 log-likelihood (no 2 pi constant) and its gradients with respect to
    Sigma_W (level-1 order), Sigma_B (level-2 order) and mu (tilde order); inf when a
    covariance is not positive definite."""
    py = len(stats.level1)
    between = e @ sigma_b @ e.T
    within = f @ sigma_w @ f.T
    try:
        chol_w = np.linalg.cholesky(sigma_w)
    except np.linalg.LinAlgError:
        return np.inf, None, None, None
    inv_w = np.linalg.inv(sigma_w)
    df_w = stats.n - stats.n_clusters
    total = df_w * (2 * np.sum(np.log(np.diag(chol_w))) + float(np.sum(inv_w * stats.s_pw)))
    g_w = df_w * (inv_w - inv_w @ stats.s_pw @ inv_w) if gradient else None
    g_b = np.zeros_like(sigma_b) if gradient else None
    g_mu = np.zeros_like(mu) if gradient else None
    for size, count, mean, cov in zip(
        stats.sizes, stats.counts, stats.means, stats.covs, strict=True
    ):
        v = between + within / size
        try:
            chol = np.linalg.cholesky(v)
        except np.linalg.LinAlgError:
            return np.inf, None, None, None
        inv = np.linalg.inv(v)
        d = mean - mu
        t = cov + np.outer(d, d)
        logdet = 2 * np.sum(np.log(np.diag(chol)))
        total += count * (logdet + py * np.log(size) + float(np.sum(inv * t)))
        if gradient:
            g_v = count * (inv - inv @ t @ inv)
            g_b += e.T @ g_v @ e
            g_w += f.T @ g_v @ f / size
            g_mu += -2 * count * (inv @ d)
    return float(total), g_w, g_b, g_mu


def loglik_constant(stats: ClusterStats) -> float:
    """The 2 pi part of the log-likelihood: level-1 values of every respondent, between-only
    values of every cluster."""
    values = stats.n * len(stats.level1) + stats.n_clusters * len(stats.between_only)
    return -0.5 * values * LOG2PI


def fixed_x_loglik(stats: ClusterStats, within_x: list[int], between_x: list[int]) -> float:
    """lavaan's loglik.x: the saturated log-likelihood of the fixed exogenous covariates
    (subtracted from the model's log-likelihood under ``fixed.x = TRUE``)."""

    def h1(n: int, cov: np.ndarray) -> float:
        p = cov.shape[0]
        if p == 0:
            return 0.0
        return -0.5 * n * (p * LOG2PI + np.linalg.slogdet(cov)[1] + p)

    wx = stats.s_total[np.ix_(within_x, within_x)]
    bx = stats.s_between_only[np.ix_(between_x, between_x)]
    return h1(stats.n, wx) + h1(stats.n_clusters, bx)


def em_saturated(
    stats: ClusterStats,
    within_only: tuple[str, ...] = (),
    tol: float = 1e-4,
    max_iter: int = 5000,
    min_variance: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int, np.ndarray]:
    """lavaan's saturated (h1) two-level model by EM (``lav_mvnorm_cluster_em_sat``, 0.6-14):
    identity start, stop when the log-likelihood gains less than `tol`; the covariance of the
    between part stays positive semi-definite (so on data whose unrestricted between covariance
    is not, this h1 is lavaan's, not the unconstrained maximum). The between parts of
    `within_only` variables start at zero, where EM keeps them. Returns Sigma_W (level-1 order),
    Sigma_B and mu (tilde order), -2 log L without the 2 pi constant, the iterations, and the
    within part of the level-1 means (level-1 order; lavaan's h1 within means: a level-1
    variable's h1 between mean, lavaan's fixed level-2 mean of a covariate at both levels, is its
    mu less this)."""
    pz, py = len(stats.between_only), len(stats.level1)
    g, n = stats.n_clusters, stats.n
    z = stats.cluster_means[:, :pz]
    ybar = stats.cluster_means[:, pz:]
    sizes = stats.cluster_sizes
    y1y1 = (n - g) * stats.s_pw + (ybar * sizes[:, None]).T @ ybar
    mu_z, sigma_zz = z.mean(axis=0), covariance(z)
    sigma_w, sigma_b = np.eye(py), np.eye(py)
    sigma_yz = np.zeros((py, pz))
    mu_w, mu_b = np.zeros(py), np.zeros(py)
    e, f = placement(stats, stats.tilde)
    keep = np.array([name not in within_only for name in stats.level1], dtype=float)
    sigma_b = np.diag(keep)  # within-only between parts start (and stay) at zero

    def moments(sb, syz, mw, mb):
        sb, syz = sb * np.outer(keep, keep), syz * keep[:, None]
        between = np.block([[sigma_zz, syz.T], [syz, sb]])
        return between, np.concatenate([mu_z, mw + mb * keep])

    def value(sw, sb, syz, mw, mb):
        return minus2_loglik(stats, sw, *moments(sb, syz, mw, mb), e, f, False)[0]

    old = value(sigma_w, sigma_b, sigma_yz, mu_w, mu_b)
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 (returned)
        sigma_1 = np.hstack([sigma_yz, sigma_b])
        mu = np.concatenate([mu_z, mu_w + mu_b])
        cw2, cb = np.zeros((py, py)), np.zeros((py, py))
        mw_sum, mb_sum, zy = np.zeros(py), np.zeros(py), np.zeros((pz, py))
        for size in np.unique(sizes):
            rows = sizes == size
            b_j = stats.cluster_means[rows]
            y_j = ybar[rows]
            omega = np.block(
                [[sigma_zz, sigma_yz.T], [sigma_yz, (sigma_w + size * sigma_b) / size]]
            )
            s1_inv = sigma_1 @ np.linalg.inv(omega)
            ev = (b_j - mu) @ s1_inv.T + mu_b
            covv = rows.sum() * (sigma_b - s1_inv @ sigma_1.T)
            evv = 0.5 * (covv + covv.T) + ev.T @ ev
            mw_sum += size * (y_j - ev).sum(axis=0)
            mb_sum += ev.sum(axis=0)
            cw2 += size * (evv - y_j.T @ ev - ev.T @ y_j)
            cb += evv
            zy += z[rows].T @ ev
        mu_w, mu_b = mw_sum / n, mb_sum / g
        sigma_w = (y1y1 + cw2) / n - np.outer(mu_w, mu_w)
        sigma_b = cb / g - np.outer(mu_b, mu_b)
        sigma_yz = (zy / g - np.outer(mu_z, mu_b)).T
        zero = np.diag(sigma_w) < min_variance
        if zero.any():
            sigma_w[zero, :] = 0.0
            sigma_w[:, zero] = 0.0
            sigma_w[zero, zero] = min_variance
        new = value(sigma_w, sigma_b, sigma_yz, mu_w, mu_b)
        if (old - new) / 2 < tol:
            old = new
            break
        old = new
    between, mu = moments(sigma_b, sigma_yz, mu_w, mu_b)
    return sigma_w, between, mu, float(old), iteration, mu_w
