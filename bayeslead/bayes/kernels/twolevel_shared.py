"""The two-level kernel's cluster-independent pieces (`kernels/twolevel_terms.py`): the within
factors every cluster uses, the items each construct loads on, and the between terms shared by
clusters of one size (E, V = E^-1 Lambda, Lambda' V, log|E|).
"""

from __future__ import annotations

import numba
import numpy as np

from bayeslead.bayes.kernels.lanes import LANE_FASTMATH, LANES, lane_spd_inverse, matmul


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def within_shared(lam, theta_w, psi_w):
    """(ok, Psi_W and Psi_W^-1 in every lane, log|Psi_W|, 1 / theta_w, U = D^-1 Lambda, log|D|,
    Lambda' D^-1 Lambda), D = diag(theta_w); ok is False if Psi_W is not positive definite."""
    p, m = lam.shape
    low = np.empty((m, m, LANES))
    psi = np.empty((m, m, LANES))
    psi_inv = np.empty((m, m, LANES))
    for r in range(m):
        for c in range(m):
            for s in range(LANES):
                psi[r, c, s] = psi_w[r, c]
    logdet_psi = np.empty(1)
    ok = lane_spd_inverse(psi, psi_inv, low, logdet_psi, 1)
    for r in range(m):
        for c in range(m):
            for s in range(1, LANES):
                psi_inv[r, c, s] = psi_inv[r, c, 0]
    inv_theta = np.empty(p)
    u_w = np.empty((p, m))  # U = D^-1 Lambda
    log_theta_w = 0.0
    for k in range(p):
        inv_theta[k] = 1.0 / theta_w[k]
        log_theta_w += np.log(theta_w[k])
        for c in range(m):
            u_w[k, c] = lam[k, c] * inv_theta[k]
    a_w = matmul(lam.T, u_w)  # Lambda' D^-1 Lambda
    return ok, psi, psi_inv, logdet_psi[0], inv_theta, u_w, log_theta_w, a_w


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def loading_index(lam):
    """The non-zero loadings, construct by construct: (load_start, load_item, load_construct),
    construct c's items load_item[load_start[c]:load_start[c + 1]]."""
    p, m = lam.shape
    load_start = np.zeros(m + 1, dtype=np.int64)
    for c in range(m):
        load_start[c + 1] = load_start[c]
        for k in range(p):
            load_start[c + 1] += lam[k, c] != 0.0
    n_load = load_start[m]
    load_item = np.empty(n_load, dtype=np.int64)
    load_construct = np.empty(n_load, dtype=np.int64)
    t = 0
    for c in range(m):
        for k in range(p):
            if lam[k, c] != 0.0:
                load_item[t] = k
                load_construct[t] = c
                t += 1
    return load_start, load_item, load_construct


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def size_groups(lam, theta_w, theta_b, counts, n_max):
    """Clusters of one size share E = diag(theta_b + theta_w / n), V = E^-1 Lambda, Lambda' V and
    log|E|: (each cluster's group, the groups' sizes and cluster counts, E, V, Lambda' V,
    log|E|)."""
    p, m = lam.shape
    n_clusters = counts.shape[0]
    group_of_size = np.full(n_max + 1, -1)
    group = np.empty(n_clusters, dtype=np.int64)
    n_groups = 0
    for j in range(n_clusters):
        size = int(counts[j])
        if group_of_size[size] < 0:
            group_of_size[size] = n_groups
            n_groups += 1
        group[j] = group_of_size[size]
    g_size = np.zeros(n_groups)
    g_count = np.zeros(n_groups)
    for j in range(n_clusters):
        g_size[group[j]] = counts[j]
        g_count[group[j]] += 1.0
    g_e = np.empty((n_groups, p))
    g_v = np.empty((n_groups, p, m))
    g_a = np.empty((n_groups, m, m))
    g_logdet_e = np.zeros(n_groups)
    for g in range(n_groups):
        for k in range(p):
            g_e[g, k] = theta_b[k] + theta_w[k] / g_size[g]
            g_logdet_e[g] += np.log(g_e[g, k])
            for c in range(m):
                g_v[g, k, c] = lam[k, c] / g_e[g, k]
        g_a[g] = matmul(lam.T, g_v[g])
    return group, g_size, g_count, g_e, g_v, g_a, g_logdet_e
