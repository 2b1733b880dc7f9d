"""Blank answers of a two-level model integrated out exactly: the correction to the filled-in
clusters' likelihood.

A cluster's stacked answers y (n members x p items) are normal with covariance
V = I_n (x) Sigma_W + 1 1' (x) Sigma_B, so its precision is

    Omega = I_n (x) P + 1 1' (x) G,   P = Sigma_W^-1,   G = (C^-1 / n - P) / n,   C = Sigma_B + Sigma_W / n.

For the blank cells m of a cluster and any filling of them, p(y_o) = p(y_o, y_m) / p(y_m | y_o),
and y_m | y_o is normal with precision Omega_mm and mean y_m* = mu_m - Omega_mm^-1 (Omega r0)_m
(r0: the residuals y - mu with the blanks at zero). Filled at y_m*, the filled-in clusters'
log-likelihood (the two-level kernel, `twolevel.py`) plus

    -1/2 sum_j log|Omega_mm,j|        (the 2 pi constant omitted, as in the kernel)

is the exact log-likelihood of the observed answers. As y_m* maximises the filled-in likelihood
over the blank cells, its gradient there with respect to the cells is zero, so the gradient of the
sum with respect to the parameters is the kernel's at fixed cells plus this term's (envelope
theorem): the filling carries no gradient. Omega_mm (b_j x b_j, b_j the cluster's blank cells)
has P's entries for two cells of one respondent plus G's for every pair; one Cholesky
factorisation per cluster gives the log-determinant, the filling and (with Omega_mm^-1) the
gradient with respect to P and C^-1, carried to Sigma_W and Sigma_B at the end (one p x p
product per covariance group: per cluster size without random slopes, else per cluster).
Pure numerics (numba); the PyTensor Op is `twolevel_blanks_op.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from bayeslead.bayes.kernels.lanes import matmul, series_inverse
from bayeslead.bayes.kernels.missing import spd_inverse_into

# sums may be reordered and contracted; division, sqrt and log stay exact
FAST = {"reassoc", "contract"}


@dataclass(frozen=True)
class BlankCells:
    """The blank cells of the padded cluster array (J, n_max, p), cluster by cluster."""

    start: np.ndarray  # (J + 1,) cluster j's cells are start[j]:start[j + 1]
    cluster: np.ndarray  # (b,) cluster index of each cell
    member: np.ndarray  # (b,) the row's position among its cluster's members
    item: np.ndarray  # (b,) item index
    observed: np.ndarray  # (J, n_max, p) 1 for an answered member cell, 0 for blanks and padding


def blank_cells(
    cluster: np.ndarray, member: np.ndarray, item: np.ndarray, members: np.ndarray, p: int
) -> tuple[BlankCells, np.ndarray]:
    """The cells (cluster, member, item) sorted cluster by cluster, and the order that sorts
    them; `members` (J, n_max) is 1 for a member row, `p` the number of items."""
    order = np.lexsort((item, member, cluster))
    start = np.searchsorted(cluster[order], np.arange(members.shape[0] + 1))
    observed = np.repeat(members[:, :, None], p, axis=2)
    observed[cluster, member, item] = 0.0
    cells = BlankCells(start, cluster[order], member[order], item[order], observed)
    return cells, order


@numba.njit(cache=True, fastmath=FAST)
def blank_terms(sigma_w, sigma_b, counts, resid, start, member, item):
    """-1/2 sum_j log|Omega_mm,j|, its gradients with respect to `sigma_w` (one p x p matrix, or
    one per cluster) and `sigma_b`, and each blank cell's conditional mean residual
    E[y - mu | observed answers] (the filling; cells in `start`/`member`/`item` order).

    `resid` (J, n_max, p): the member rows' residuals y - mu (- the cluster's mean offset) with
    zeros at the blank cells and in padding rows. Returns -inf and zeros when a matrix is not
    positive definite.
    """
    n_w, p = sigma_w.shape[0], sigma_w.shape[1]
    n_clusters = counts.shape[0]
    fill = np.zeros(item.shape[0])
    d_sigma_w = np.zeros((n_w, p, p))
    d_sigma_b = np.zeros((p, p))
    work = np.empty((p, p))
    prec = np.empty((n_w, p, p))
    for w in range(n_w):
        if np.isnan(spd_inverse_into(sigma_w[w], prec[w], work)):
            return -np.inf, d_sigma_w, d_sigma_b, fill
    # covariance groups: clusters sharing C = Sigma_B + Sigma_W / n (one size and one Sigma_W)
    group = np.full(n_clusters, -1)
    n_groups = 0
    if n_w == 1:
        n_max = int(counts.max()) if n_clusters else 0
        of_size = np.full(n_max + 1, -1)
        for j in range(n_clusters):
            size = int(counts[j])
            if start[j + 1] > start[j]:
                if of_size[size] < 0:
                    of_size[size] = n_groups
                    n_groups += 1
                group[j] = of_size[size]
    else:
        for j in range(n_clusters):
            if start[j + 1] > start[j]:
                group[j] = n_groups
                n_groups += 1
    g_size = np.zeros(n_groups)
    g_w = np.zeros(n_groups, dtype=np.int64)
    for j in range(n_clusters):
        if group[j] >= 0:
            g_size[group[j]] = counts[j]
            g_w[group[j]] = 0 if n_w == 1 else j
    c_inv = np.empty((n_groups, p, p))
    cov = np.empty((p, p))
    for g in range(n_groups):
        for r in range(p):
            for c in range(p):
                cov[r, c] = sigma_b[r, c] + sigma_w[g_w[g], r, c] / g_size[g]
        if np.isnan(spd_inverse_into(cov, c_inv[g], work)):
            return -np.inf, d_sigma_w, d_sigma_b, fill
    # G = (C^-1 / n - P) / n per group; dL/dOmega_mm collected per group (every pair: dG)
    # and per Sigma_W (pairs within a respondent: dP), divided by n only once at the end
    g_mat = np.empty((n_groups, p, p))
    for g in range(n_groups):
        inv_n = 1.0 / g_size[g]
        pw = prec[g_w[g]]
        for r in range(p):
            for c in range(p):
                g_mat[g, r, c] = (c_inv[g, r, c] * inv_n - pw[r, c]) * inv_n
    d_prec = np.zeros((n_w, p, p))
    d_g = np.zeros((n_groups, p, p))
    b_max = 0
    for j in range(n_clusters):
        b_max = max(b_max, start[j + 1] - start[j])
    omega = np.empty((b_max, b_max))
    inv = np.empty((b_max, b_max))
    scratch = np.empty((b_max, b_max))
    h = np.empty(b_max)
    sums = np.empty(p)
    g_sums = np.empty(p)
    total = 0.0
    for j in range(n_clusters):
        first, b = start[j], start[j + 1] - start[j]
        if b == 0:
            continue
        g, w = group[j], 0 if n_w == 1 else j
        pw, gm = prec[w], g_mat[g]
        for a in range(b):
            ka, ma = item[first + a], member[first + a]
            for c in range(a + 1):
                kc = item[first + c]
                value = gm[ka, kc]
                if member[first + c] == ma:
                    value += pw[ka, kc]
                omega[a, c] = value
                omega[c, a] = value
        r_inv = inv[:b, :b]
        logdet = spd_inverse_into(omega, r_inv, scratch)
        if np.isnan(logdet):
            return -np.inf, np.zeros((n_w, p, p)), np.zeros((p, p)), np.zeros(item.shape[0])
        total -= 0.5 * logdet
        # dL/dOmega_mm = -1/2 Omega_mm^-1
        for a in range(b):
            ka, ma = item[first + a], member[first + a]
            for c in range(b):
                kc = item[first + c]
                grad = -0.5 * r_inv[a, c]
                d_g[g, ka, kc] += grad
                if member[first + c] == ma:
                    d_prec[w, ka, kc] += grad
        # the filling: -Omega_mm^-1 (Omega r0)_m, (Omega r0)_(i, k) = (P r0_i)_k + (G sum_i r0_i)_k
        for k in range(p):
            sums[k] = 0.0
        for i in range(int(counts[j])):
            for k in range(p):
                sums[k] += resid[j, i, k]
        for r in range(p):
            acc = 0.0
            for k in range(p):
                acc += gm[r, k] * sums[k]
            g_sums[r] = acc
        for a in range(b):
            ka, ma = item[first + a], member[first + a]
            acc = g_sums[ka]
            for k in range(p):
                acc += pw[ka, k] * resid[j, ma, k]
            h[a] = acc
        for a in range(b):
            acc = 0.0
            for c in range(b):
                acc -= r_inv[a, c] * h[c]
            fill[first + a] = acc
    # G's parts: dP -= dG / n, dC^-1 = dG / n^2; P = Sigma_W^-1: dSigma_W = -P dP P;
    # dC = -C^-1 dC^-1 C^-1 with C = Sigma_B + Sigma_W / n
    for g in range(n_groups):
        inv_n = 1.0 / g_size[g]
        for r in range(p):
            for c in range(p):
                d_prec[g_w[g], r, c] -= d_g[g, r, c] * inv_n
                d_g[g, r, c] *= inv_n * inv_n
    for w in range(n_w):
        d_sigma_w[w] = -matmul(prec[w], matmul(d_prec[w], prec[w]))
    for g in range(n_groups):
        d_cov = matmul(c_inv[g], matmul(d_g[g], c_inv[g]))
        inv_n = 1.0 / g_size[g]
        for r in range(p):
            for c in range(p):
                d_sigma_b[r, c] -= d_cov[r, c]
                d_sigma_w[g_w[g], r, c] -= d_cov[r, c] * inv_n
    return total, d_sigma_w, d_sigma_b, fill


@numba.njit(cache=True, fastmath=FAST)
def implied_covariance(lam, theta, psi, beta, depth):
    """Sigma = Lambda T Psi T' Lambda' + diag(theta), T = (I - B)^-1; also T and Phi."""
    t = series_inverse(beta, depth)
    phi = matmul(matmul(t, psi), t.T)
    sigma = matmul(matmul(lam, phi), lam.T)
    for k in range(theta.shape[0]):
        sigma[k, k] += theta[k]
    return sigma, t, phi


@numba.njit(cache=True, fastmath=FAST)
def covariance_grads(d_sigma, lam, t, phi, d_lam, d_theta, d_psi, d_beta):
    """Add the gradients with respect to Lambda, theta, Psi and B of a loss whose gradient with
    respect to the (symmetric) Sigma of `implied_covariance` is the symmetric `d_sigma`;
    returns dL/dB of this Sigma (for random slopes)."""
    lam_phi = matmul(lam, phi)
    d_lp = matmul(d_sigma, lam_phi)
    h = matmul(lam.T, matmul(d_sigma, lam))  # dL/dPhi
    t_h = matmul(t.T, h)
    d_psi += matmul(t_h, t)
    d_b = matmul(t_h, phi)
    for r in range(d_b.shape[0]):
        for c in range(d_b.shape[1]):
            d_b[r, c] *= 2.0
    d_beta += d_b
    for k in range(lam.shape[0]):
        d_theta[k] += d_sigma[k, k]
        for c in range(lam.shape[1]):
            d_lam[k, c] += 2.0 * d_lp[k, c]
    return d_b


@numba.njit(cache=True, fastmath=FAST)
def blank_model_terms(
    lam,
    theta_w,
    theta_b,
    psi_w,
    psi_b,
    beta_w,
    beta_b,
    slopes,
    rows,
    cols,
    depth,
    counts,
    resid,
    start,
    member,
    item,
):
    """`blank_terms` with the covariance matrices built from the model's matrices (within: one,
    or one per cluster with random slopes `slopes` (J, r) on the latent paths at `rows`,
    `cols`), and the gradients with respect to them."""
    p, m = lam.shape
    n_clusters, n_slopes = slopes.shape
    n_w = n_clusters if n_slopes else 1
    sigma_w = np.empty((n_w, p, p))
    t_w = np.empty((n_w, m, m))
    phi_w = np.empty((n_w, m, m))
    beta = beta_w.copy()
    for w in range(n_w):
        for r in range(m):
            for c in range(m):
                beta[r, c] = beta_w[r, c]
        for k in range(n_slopes):
            beta[rows[k], cols[k]] += slopes[w, k]
        sigma_w[w], t_w[w], phi_w[w] = implied_covariance(lam, theta_w, psi_w, beta, depth)
    sigma_b, t_b, phi_b = implied_covariance(lam, theta_b, psi_b, beta_b, depth)
    total, d_sigma_w, d_sigma_b, fill = blank_terms(
        sigma_w, sigma_b, counts, resid, start, member, item
    )
    d_lam = np.zeros((p, m))
    d_theta_w = np.zeros(p)
    d_theta_b = np.zeros(p)
    d_psi_w = np.zeros((m, m))
    d_psi_b = np.zeros((m, m))
    d_beta_w = np.zeros((m, m))
    d_beta_b = np.zeros((m, m))
    d_slopes = np.zeros((n_clusters, n_slopes))
    if total == -np.inf:
        return (
            total,
            d_lam,
            d_theta_w,
            d_theta_b,
            d_psi_w,
            d_psi_b,
            d_beta_w,
            d_beta_b,
            d_slopes,
            fill,
        )
    for w in range(n_w):
        d_b = covariance_grads(
            d_sigma_w[w], lam, t_w[w], phi_w[w], d_lam, d_theta_w, d_psi_w, d_beta_w
        )
        for k in range(n_slopes):
            d_slopes[w, k] = d_b[rows[k], cols[k]]
    covariance_grads(d_sigma_b, lam, t_b, phi_b, d_lam, d_theta_b, d_psi_b, d_beta_b)
    return total, d_lam, d_theta_w, d_theta_b, d_psi_w, d_psi_b, d_beta_w, d_beta_b, d_slopes, fill


@numba.njit(cache=True, fastmath=FAST)
def integrated_clusters(
    lam,
    theta_w,
    theta_b,
    psi_w,
    psi_b,
    beta_w,
    beta_b,
    slopes,
    rows,
    cols,
    depth,
    counts,
    filled,
    observed,
    shift,
    start,
    member,
    item,
):
    """`blank_model_terms` (value and gradients, the first nine results) and the clusters'
    means (J, p) and centred member rows (J, n_max, p) with the blank cells filled in at their
    conditional means; `filled` (J, n_max, p): the member rows (blank cells: any value, padding
    rows zero), `observed` 1 for an answered member cell, `shift` (J, p) each cluster's expected
    item means."""
    n_clusters, n_max, p = filled.shape
    resid = np.empty((n_clusters, n_max, p))
    for j in range(n_clusters):
        for i in range(n_max):
            for k in range(p):
                resid[j, i, k] = (filled[j, i, k] - shift[j, k]) * observed[j, i, k]
    r = blank_model_terms(
        lam,
        theta_w,
        theta_b,
        psi_w,
        psi_b,
        beta_w,
        beta_b,
        slopes,
        rows,
        cols,
        depth,
        counts,
        resid,
        start,
        member,
        item,
    )
    fill = r[9]
    values = filled.copy()
    means = np.zeros((n_clusters, p))
    centred = np.zeros((n_clusters, n_max, p))
    for j in range(n_clusters):
        for a in range(start[j], start[j + 1]):
            values[j, member[a], item[a]] = fill[a] + shift[j, item[a]]
        n = int(counts[j])
        for i in range(n):
            for k in range(p):
                means[j, k] += values[j, i, k]
        for k in range(p):
            means[j, k] /= counts[j]
        for i in range(n):
            for k in range(p):
                centred[j, i, k] = values[j, i, k] - means[j, k]
    return r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], means, centred
